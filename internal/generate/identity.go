package generate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// agent is how a principal talks to AWS; it decides the userAgent and source IP of its events.
type agent uint8

const (
	agentCLI agent = iota
	agentSDK
	agentConsole
	agentService // a service-linked role; userAgent and sourceIPAddress are the service
)

// principal is one identity that appears in userIdentity.
type principal struct {
	typ         string // IAMUser, AssumedRole, Root, AWSService
	arn         string
	principalID string
	account     string
	userName    string
	accessKey   string // long-term key of an IAM user
	issuerARN   string
	issuerID    string
	issuerName  string
	invokedBy   string
	agent       agent
	mfa         bool
	ips         []string
	sdkAgents   []string
}

// people are the principals of one account.
type people struct {
	alice, bob, intern, admin, dev, root *principal
	ci, karpenter, app, ec2role          *principal
	asg, spotfleet, emr                  *principal
	humans                               []*principal // who makes the everyday noise
}

func publicIP(r *rand.Rand) string {
	first := pick(r, []int{3, 18, 34, 52, 54, 73, 81, 98, 145, 185, 203, 212})
	return fmt.Sprintf("%d.%d.%d.%d", first, r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

func newPeople(r *rand.Rand, acct string) people {
	ips := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = publicIP(r)
		}
		return out
	}
	user := func(name string, a agent) *principal {
		return &principal{typ: "IAMUser", arn: "arn:aws:iam::" + acct + ":user/" + name, principalID: "AIDA" + chars(r, upperAlnum, 17),
			account: acct, userName: name, accessKey: "AKIA" + chars(r, upperAlnum, 16), agent: a, ips: ips(2)}
	}
	role := func(path, name, session string, a agent) *principal {
		id := "AROA" + chars(r, upperAlnum, 17)
		return &principal{typ: "AssumedRole", arn: "arn:aws:sts::" + acct + ":assumed-role/" + name + "/" + session,
			principalID: id + ":" + session, account: acct, issuerARN: "arn:aws:iam::" + acct + ":role/" + path + name,
			issuerID: id, issuerName: name, agent: a, ips: ips(3)}
	}
	service := func(name, session, svc string) *principal {
		p := role("aws-service-role/"+svc+"/", name, session, agentService)
		p.invokedBy, p.ips = svc, []string{svc}
		return p
	}
	ssoHash := chars(r, lowerHex, 16)
	pp := people{
		alice:     user("alice", agentCLI),
		bob:       user("bob", agentCLI),
		intern:    user("intern", agentCLI),
		admin:     role("aws-reserved/sso.amazonaws.com/", "AWSReservedSSO_AdministratorAccess_"+ssoHash, "carol@example.com", agentConsole),
		dev:       role("aws-reserved/sso.amazonaws.com/", "AWSReservedSSO_DevAdmin_"+chars(r, lowerHex, 16), "dave@example.com", agentConsole),
		root:      &principal{typ: "Root", arn: "arn:aws:iam::" + acct + ":root", principalID: acct, account: acct, agent: agentConsole, mfa: true, ips: ips(1)},
		ci:        role("", "github-actions-deploy", "GitHubActions", agentSDK),
		karpenter: role("", "KarpenterControllerRole-platform", fmt.Sprint(1780000000000000000+r.Int64N(1e17)), agentSDK),
		app:       role("service-role/", "orders-api-lambda-role", "orders-api", agentSDK),
		ec2role:   role("", "app-instance-role", "i-0"+chars(r, lowerHex, 16), agentSDK),
		asg:       service("AWSServiceRoleForAutoScaling", "AutoScaling", "autoscaling.amazonaws.com"),
		spotfleet: service("AWSServiceRoleForEC2SpotFleet", "SpotFleet", "spotfleet.amazonaws.com"),
		emr:       service("AWSServiceRoleForEMRCleanup", "ElasticMapReduceSession", "elasticmapreduce.amazonaws.com"),
	}
	pp.admin.mfa = true
	pp.ci.sdkAgents = []string{"Boto3/1.35.24 md/Botocore#1.35.24 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.24",
		"APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.68.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.5 ua/2.1 os/linux lang/go#1.22.6 md/GOOS#linux md/GOARCH#amd64 api/%s#1.177.3"}
	pp.karpenter.sdkAgents = []string{"aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/%s#1.186.0 m/E karpenter.sh-1.0.6"}
	pp.app.sdkAgents = []string{"aws-sdk-java/2.28.11 Linux/5.10.225-235.876.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. exec-env/AWS_Lambda_java21 io/sync http/Apache cfg/retry-mode/legacy"}
	pp.ec2role.sdkAgents = []string{"Boto3/1.34.162 md/Botocore#1.34.162 ua/2.0 os/linux#6.1.109-118.189.amzn2023.x86_64 md/arch#x86_64 lang/python#3.9.16 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.162"}
	pp.karpenter.ips = []string{"10.0." + fmt.Sprint(r.IntN(256)) + "." + fmt.Sprint(1+r.IntN(254))}
	pp.humans = []*principal{pp.alice, pp.bob, pp.admin, pp.dev, pp.ci, pp.app, pp.app, pp.ec2role, pp.karpenter}
	return pp
}

var browserAgents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
}

var cliVersions = []string{"2.17.42", "2.18.0", "2.15.30"}

// userAgent returns the userAgent of p calling service (e.g. "ec2") operation op.
func (p *principal) userAgent(r *rand.Rand, service, op string, console bool) string {
	switch {
	case p.agent == agentService:
		return p.invokedBy
	case console || p.agent == agentConsole:
		return pick(r, browserAgents)
	case p.agent == agentSDK && len(p.sdkAgents) > 0:
		ua := pick(r, p.sdkAgents)
		if strings.Contains(ua, "%s") {
			ua = fmt.Sprintf(ua, service)
		}
		return ua
	default:
		return cliUserAgent(r, service, op)
	}
}

// cliUserAgent is the AWS CLI v2 userAgent for service.op.
func cliUserAgent(r *rand.Rand, service, op string) string {
	return "aws-cli/" + pick(r, cliVersions) + " md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#" + service + "." + kebab(op)
}

// kebab turns "DescribeInstances" into "describe-instances".
func kebab(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// appendIdentity writes p as a userIdentity object. console marks a console session (which for
// an IAM user brings a sessionContext and a temporary key).
func appendIdentity(j *jbuf, r *rand.Rand, p *principal, at time.Time, console bool) {
	j.k("userIdentity").obj()
	j.ks("type", p.typ).ks("principalId", p.principalID).ks("arn", p.arn).ks("accountId", p.account)
	created := at.Add(-time.Duration(r.IntN(3500)+5) * time.Second)
	mfa := "false"
	if p.mfa {
		mfa = "true"
	}
	switch p.typ {
	case "IAMUser":
		if console {
			j.ks("accessKeyId", "ASIA"+chars(r, upperAlnum, 16)).ks("userName", p.userName)
			j.k("sessionContext").obj().k("sessionIssuer").empty().k("webIdFederationData").empty()
			j.k("attributes").obj().kt("creationDate", created).ks("mfaAuthenticated", mfa).end().end()
		} else {
			j.ks("accessKeyId", p.accessKey).ks("userName", p.userName)
		}
	case "Root":
		j.ks("accessKeyId", "ASIA"+chars(r, upperAlnum, 16))
		j.k("sessionContext").obj().k("sessionIssuer").empty().k("webIdFederationData").empty()
		j.k("attributes").obj().kt("creationDate", created).ks("mfaAuthenticated", mfa).end().end()
	case "AssumedRole":
		j.ks("accessKeyId", "ASIA"+chars(r, upperAlnum, 16))
		j.k("sessionContext").obj().k("sessionIssuer").obj()
		j.ks("type", "Role").ks("principalId", p.issuerID).ks("arn", p.issuerARN).ks("accountId", p.account).ks("userName", p.issuerName).end()
		if p.agent != agentService {
			j.k("webIdFederationData").empty()
		}
		j.k("attributes").obj().kt("creationDate", created).ks("mfaAuthenticated", mfa).end()
		if p.issuerName == "app-instance-role" {
			j.ks("ec2RoleDelivery", "2.0")
		}
		j.end()
		if p.invokedBy != "" {
			j.ks("invokedBy", p.invokedBy)
		}
	}
	j.end()
}

// appendServiceIdentity writes the userIdentity of an AWS service acting on its own.
func appendServiceIdentity(j *jbuf, service string) {
	j.k("userIdentity").obj().ks("type", "AWSService").ks("invokedBy", service).end()
}
