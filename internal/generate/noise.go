package generate

import (
	"math/rand/v2"
	"time"
)

// noiseCtx is what a noise generator needs about the file it writes into.
type noiseCtx struct {
	r      *rand.Rand
	s      *scratch
	at     time.Time
	plan   *Plan
	acct   *Account
	a, reg int
	region string
}

// noiseKind is one everyday CloudTrail event type with its relative frequency.
type noiseKind struct {
	weight int
	fill   func(c *noiseCtx, e *ev)
}

var noiseKinds = []noiseKind{
	{20, describeEC2},
	{10, assumeRole},
	{14, s3Object},
	{10, kmsCall},
	{3, consoleLogin},
	{4, createTags},
	{4, iamRead},
	{4, getCallerIdentity},
	{3, listBuckets},
	{5, createLogStream},
	{2, listFunctions},
}

var noiseWeights = func() []int {
	w := make([]int, len(noiseKinds))
	for i, k := range noiseKinds {
		w[i] = k.weight
	}
	return w
}()

// fillNoise draws one noise event at time at.
func fillNoise(c *noiseCtx, e *ev, at time.Time) {
	c.s.reset()
	c.at = at
	noiseKinds[weighted(c.r, noiseWeights)].fill(c, e)
	if e.eventID == "" {
		e.eventID = c.s.uuid(c.r)
	}
	if e.requestID == "" && !e.noReqID {
		e.requestID = uuid(c.r)
	}
	if e.errCode == "" && e.by != nil && e.by.agent != agentService && e.name != "ConsoleLogin" {
		switch x := c.r.IntN(1000); {
		case x < 30:
			e.errCode, e.errMsg = denied(e)
		case x < 40:
			e.errCode, e.errMsg = throttled(e)
		}
	}
}

func denied(e *ev) (string, string) {
	action := serviceOf(e.source) + ":" + e.name
	switch e.source {
	case "ec2.amazonaws.com":
		return "Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: " + e.by.arn + " is not authorized to perform: " + action + " because no identity-based policy allows the " + action + " action"
	case "kms.amazonaws.com", "lambda.amazonaws.com", "logs.amazonaws.com":
		return "AccessDeniedException", "User: " + e.by.arn + " is not authorized to perform: " + action + " because no identity-based policy allows the " + action + " action"
	default:
		return "AccessDenied", "User: " + e.by.arn + " is not authorized to perform: " + action + " because no identity-based policy allows the " + action + " action"
	}
}

func throttled(e *ev) (string, string) {
	switch e.source {
	case "ec2.amazonaws.com":
		return "Client.RequestLimitExceeded", "Request limit exceeded."
	case "sts.amazonaws.com", "iam.amazonaws.com":
		return "Throttling", "Rate exceeded"
	case "s3.amazonaws.com":
		return "SlowDown", "Please reduce your request rate."
	default:
		return "ThrottlingException", "Rate exceeded"
	}
}

func serviceOf(source string) string {
	for i := 0; i < len(source); i++ {
		if source[i] == '.' {
			return source[:i]
		}
	}
	return source
}

func human(c *noiseCtx) *principal { return pick(c.r, c.acct.p.humans) }

func describeEC2(c *noiseCtx, e *ev) {
	ops := []string{"DescribeInstances", "DescribeInstances", "DescribeSecurityGroups", "DescribeSubnets", "DescribeVolumes", "DescribeLaunchTemplates", "DescribeInstanceStatus"}
	name := pick(c.r, ops)
	base(c.r, e, human(c), "ec2.amazonaws.com", "ec2", name, c.region, c.at)
	j := &c.s.req
	j.obj()
	net := c.plan.nets[c.a][c.reg]
	switch name {
	case "DescribeInstances", "DescribeInstanceStatus":
		if c.r.IntN(2) == 0 {
			j.k("instancesSet").obj().k("items").arr().obj().ks("instanceId", awsID(c.r, "i-")).end().endArr().end()
		} else {
			j.k("instancesSet").empty()
		}
		j.k("filterSet").obj().k("items").arr().obj().ks("name", "instance-state-name").k("valueSet").obj().k("items").arr().obj().ks("value", "running").end().endArr().end().end().endArr().end()
	case "DescribeSecurityGroups":
		j.k("securityGroupSet").empty().k("securityGroupIdSet").obj().k("items").arr().obj().ks("groupId", net.sg).end().endArr().end().k("filterSet").empty()
	case "DescribeSubnets":
		j.k("subnetSet").empty().k("filterSet").obj().k("items").arr().obj().ks("name", "vpc-id").k("valueSet").obj().k("items").arr().obj().ks("value", net.vpc).end().endArr().end().end().endArr().end()
	case "DescribeVolumes":
		j.k("volumeSet").empty().k("filterSet").empty().ki("maxResults", 500)
	case "DescribeLaunchTemplates":
		j.ki("maxResults", 100)
	}
	j.end()
	e.req = j.b
}

func assumeRole(c *noiseCtx, e *ev) {
	acct := c.acct.ID
	role, session := "orders-api-lambda-role", "orders-api"
	svc := pick(c.r, []string{"lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com", ""})
	if svc == "" {
		p := pick(c.r, []*principal{c.acct.p.alice, c.acct.p.bob, c.acct.p.ci})
		base(c.r, e, p, "sts.amazonaws.com", "sts", "AssumeRole", c.region, c.at)
		role, session = "ReadOnlyAudit", "botocore-session-"+itoa(1780000000+c.r.IntN(10000000))
	} else {
		*e = ev{version: "1.08", at: c.at, source: "sts.amazonaws.com", name: "AssumeRole", region: c.region,
			ip: svc, ua: svc, eventType: "AwsApiCall", mgmt: 1, category: "Management", recipient: acct, readOnly: 1,
			ident: func(j *jbuf) { appendServiceIdentity(j, svc) }}
		switch svc {
		case "ecs-tasks.amazonaws.com":
			role, session = "billing-worker-task-role", chars(c.r, lowerHex, 32)
		case "ec2.amazonaws.com":
			role, session = "app-instance-role", awsID(c.r, "i-")
		}
		e.sharedID = uuid(c.r)
	}
	roleARN := "arn:aws:iam::" + acct + ":role/" + role
	j := &c.s.req
	j.obj().ks("roleArn", roleARN).ks("roleSessionName", session)
	if svc == "" {
		j.ki("durationSeconds", 3600)
	}
	j.end()
	e.req = j.b
	k := &c.s.resp
	k.obj().k("credentials").obj().ks("accessKeyId", "ASIA"+chars(c.r, upperAlnum, 16))
	k.ks("sessionToken", "IQoJb3JpZ2luX2Vj"+chars(c.r, base64Set, 220))
	k.ks("expiration", fmtExpiration(e.at.Add(time.Hour))).end()
	if svc == "" {
		k.k("assumedRoleUser").obj().ks("assumedRoleId", "AROA"+chars(c.r, upperAlnum, 17)+":"+session).ks("arn", "arn:aws:sts::"+acct+":assumed-role/"+role+"/"+session).end()
	}
	k.end()
	e.resp = k.b
	res := &c.s.res
	res.arr().obj().ks("accountId", acct).ks("type", "AWS::IAM::Role").ks("ARN", roleARN).end().endArr()
	e.resources = res.b
}

func s3Object(c *noiseCtx, e *ev) {
	p := pick(c.r, []*principal{c.acct.p.app, c.acct.p.app, c.acct.p.ec2role, c.acct.p.ci})
	name := "GetObject"
	if c.r.IntN(3) == 0 {
		name = "PutObject"
	}
	base(c.r, e, p, "s3.amazonaws.com", "s3", name, c.region, c.at)
	e.ua = "[" + e.ua + "]"
	e.mgmt, e.category = 2, "Data"
	bucket := "orders-data-" + c.acct.ID + "-" + c.region
	key := "incoming/" + c.at.Format("2006/01/02") + "/part-" + chars(c.r, lowerHex, 8) + ".json.gz"
	host := bucket + ".s3." + c.region + ".amazonaws.com"
	e.tlsHost = host
	j := &c.s.req
	j.obj().ks("bucketName", bucket).ks("Host", host).ks("key", key).end()
	e.req = j.b
	x := &c.s.extra
	x.obj().ks("SignatureVersion", "SigV4").ks("CipherSuite", "TLS_AES_128_GCM_SHA256")
	if name == "PutObject" {
		e.readOnly = 2
		x.ki("bytesTransferredIn", int64(1000+c.r.IntN(500000))).ks("AuthenticationMethod", "AuthHeader").ks("x-amz-id-2", chars(c.r, base64Set, 76)).ki("bytesTransferredOut", 0)
		k := &c.s.resp
		k.obj().ks("x-amz-server-side-encryption", "aws:kms").ks("x-amz-server-side-encryption-aws-kms-key-id", "arn:aws:kms:"+c.region+":"+c.acct.ID+":key/"+chars(c.r, lowerHex, 8)).end()
		e.resp = k.b
	} else {
		x.ki("bytesTransferredIn", 0).ks("AuthenticationMethod", "AuthHeader").ks("x-amz-id-2", chars(c.r, base64Set, 76)).ki("bytesTransferredOut", int64(1000+c.r.IntN(500000)))
	}
	x.end()
	e.extra = x.b
	e.requestID = chars(c.r, upperAlnum, 16)
	res := &c.s.res
	res.arr().obj().ks("type", "AWS::S3::Object").ks("ARN", "arn:aws:s3:::"+bucket+"/"+key).end()
	res.obj().ks("accountId", c.acct.ID).ks("type", "AWS::S3::Bucket").ks("ARN", "arn:aws:s3:::"+bucket).end().endArr()
	e.resources = res.b
}

func kmsCall(c *noiseCtx, e *ev) {
	p := pick(c.r, []*principal{c.acct.p.app, c.acct.p.ec2role, c.acct.p.ci})
	name := pick(c.r, []string{"Decrypt", "Decrypt", "Decrypt", "GenerateDataKey"})
	base(c.r, e, p, "kms.amazonaws.com", "kms", name, c.region, c.at)
	keyARN := "arn:aws:kms:" + c.region + ":" + c.acct.ID + ":key/" + pick(c.r, c.plan.nets[c.a][c.reg].kmsKeys)
	j := &c.s.req
	j.obj()
	if name == "GenerateDataKey" {
		j.ks("keyId", "alias/orders-data").ks("keySpec", "AES_256")
	} else {
		j.ks("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
	}
	j.k("encryptionContext").obj()
	if p == c.acct.p.app {
		j.ks("aws:lambda:FunctionArn", "arn:aws:lambda:"+c.region+":"+c.acct.ID+":function:orders-api")
	} else {
		j.ks("aws:s3:arn", "arn:aws:s3:::orders-data-"+c.acct.ID+"-"+c.region+"/incoming/part-"+chars(c.r, lowerHex, 8)+".json.gz")
	}
	j.end().end()
	e.req = j.b
	res := &c.s.res
	res.arr().obj().ks("accountId", c.acct.ID).ks("type", "AWS::KMS::Key").ks("ARN", keyARN).end().endArr()
	e.resources = res.b
}

func consoleLogin(c *noiseCtx, e *ev) {
	acct := c.acct.ID
	ppl := &c.acct.p
	p := pick(c.r, []*principal{ppl.alice, ppl.bob, ppl.alice, ppl.root})
	x := c.r.IntN(100)
	*e = ev{version: "1.08", at: c.at, source: "signin.amazonaws.com", name: "ConsoleLogin", region: c.region,
		ip: pick(c.r, p.ips), ua: pick(c.r, browserAgents), eventType: "AwsConsoleSignIn", mgmt: 1, category: "Management",
		recipient: acct, readOnly: 2, tlsHost: "signin.aws.amazon.com"}
	mfa := "Yes"
	if p != ppl.root && x < 35 {
		mfa = "No"
	}
	result := "Success"
	switch {
	case x >= 85:
		result = "Failure"
		e.errMsg = "Failed authentication" // ConsoleLogin failures have no errorCode
		e.ident = func(j *jbuf) {
			j.k("userIdentity").obj().ks("type", p.typ).ks("principalId", p.principalID).ks("accountId", acct).ks("accessKeyId", "")
			if p.typ == "IAMUser" {
				j.ks("userName", "HIDDEN_DUE_TO_SECURITY_REASONS")
			}
			j.end()
		}
	default:
		e.ident = func(j *jbuf) {
			j.k("userIdentity").obj().ks("type", p.typ).ks("principalId", p.principalID).ks("arn", p.arn).ks("accountId", acct).ks("accessKeyId", "")
			if p.typ == "IAMUser" {
				j.ks("userName", p.userName)
			}
			j.end()
		}
	}
	k := &c.s.resp
	k.obj().ks("ConsoleLogin", result).end()
	e.resp = k.b
	x2 := &c.s.extra
	x2.obj().ks("LoginTo", "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_"+c.region+"_"+chars(c.r, lowerHex, 16)).ks("MobileVersion", "No").ks("MFAUsed", mfa)
	if mfa == "Yes" {
		x2.ks("MFAIdentifier", "arn:aws:iam::"+acct+":mfa/"+chars(c.r, lowerHex, 6))
	}
	x2.end()
	e.extra = x2.b
}

func createTags(c *noiseCtx, e *ev) {
	p := pick(c.r, []*principal{c.acct.p.alice, c.acct.p.bob, c.acct.p.admin, c.acct.p.ci})
	base(c.r, e, p, "ec2.amazonaws.com", "ec2", "CreateTags", c.region, c.at)
	e.readOnly = 2
	id := awsID(c.r, "i-")
	j := &c.s.req
	j.obj().k("resourcesSet").obj().k("items").arr().obj().ks("resourceId", id).end().endArr().end()
	j.k("tagSet").obj().k("items").arr().obj().ks("key", pick(c.r, []string{"Owner", "CostCenter", "Project"})).ks("value", pick(c.r, []string{"alice", "platform", "cc-1042", "orders"})).end().endArr().end().end()
	e.req = j.b
	k := &c.s.resp
	k.obj().ks("requestId", uuid(c.r)).kb("_return", true).end()
	e.resp = k.b
}

func iamRead(c *noiseCtx, e *ev) {
	if c.region != "us-east-1" {
		// IAM is global: its events are delivered with the us-east-1 files only.
		describeEC2(c, e)
		return
	}
	name := pick(c.r, []string{"GetRole", "ListRoles", "ListAttachedRolePolicies", "GetPolicyVersion"})
	base(c.r, e, human(c), "iam.amazonaws.com", "iam", name, "us-east-1", c.at)
	e.tlsHost = "iam.amazonaws.com"
	j := &c.s.req
	switch name {
	case "ListRoles":
		j.obj().ki("maxItems", 100).end()
	case "GetPolicyVersion":
		j.obj().ks("policyArn", "arn:aws:iam::"+c.acct.ID+":policy/ci-deploy").ks("versionId", "v"+itoa(1+c.r.IntN(5))).end()
	default:
		j.obj().ks("roleName", pick(c.r, []string{"app-instance-role", "github-actions-deploy", "orders-api-lambda-role"})).end()
	}
	e.req = j.b
}

func getCallerIdentity(c *noiseCtx, e *ev) {
	base(c.r, e, human(c), "sts.amazonaws.com", "sts", "GetCallerIdentity", c.region, c.at)
	e.tlsHost = "sts." + c.region + ".amazonaws.com"
}

func listBuckets(c *noiseCtx, e *ev) {
	base(c.r, e, human(c), "s3.amazonaws.com", "s3", "ListBuckets", c.region, c.at)
	e.tlsHost = "s3." + c.region + ".amazonaws.com"
	j := &c.s.req
	j.obj().ks("Host", "s3."+c.region+".amazonaws.com").end()
	e.req = j.b
	x := &c.s.extra
	x.obj().ks("SignatureVersion", "SigV4").ks("CipherSuite", "TLS_AES_128_GCM_SHA256").ki("bytesTransferredIn", 0).ks("AuthenticationMethod", "AuthHeader").ks("x-amz-id-2", chars(c.r, base64Set, 76)).ki("bytesTransferredOut", int64(300+c.r.IntN(3000))).end()
	e.extra = x.b
	e.requestID = chars(c.r, upperAlnum, 16)
}

func createLogStream(c *noiseCtx, e *ev) {
	base(c.r, e, c.acct.p.app, "logs.amazonaws.com", "logs", "CreateLogStream", c.region, c.at)
	e.readOnly = 2
	j := &c.s.req
	j.obj().ks("logGroupName", "/aws/lambda/orders-api").ks("logStreamName", c.at.Format("2006/01/02")+"/[$LATEST]"+chars(c.r, lowerHex, 32)).end()
	e.req = j.b
}

func listFunctions(c *noiseCtx, e *ev) {
	base(c.r, e, human(c), "lambda.amazonaws.com", "lambda", "ListFunctions20150331", c.region, c.at)
	e.version = "1.08"
}
