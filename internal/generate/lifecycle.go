package generate

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// serviceRequesters are the AWS-owned account ids EC2 reports as requesterId when a service
// launches on the customer's behalf.
var serviceRequesters = map[Launcher]string{
	LauncherAutoScaling: "661627717883", LauncherEKS: "661627717883",
	LauncherSpotFleet: "290093585298", LauncherEMR: "369148042461",
}

const ec2xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

// fillLifecycle renders planned event le into e.
func fillLifecycle(p *Plan, s *scratch, le *lcEvent, e *ev) {
	s.reset()
	r := newRand(le.seed)
	region := p.Regions[le.region]
	acct := &p.Accounts[le.acct]
	switch le.kind {
	case lcCreateTemplate, lcCreateTemplateVersion:
		fillTemplateEvent(p, s, r, le, e)
	case lcRunInstances:
		fillRunInstances(p, s, r, le, e)
	case lcCreateFleet:
		fillCreateFleet(p, s, r, le, e)
	case lcRequestSpotFleet:
		l := &p.Launches[le.ref]
		base(r, e, le.by, "ec2.amazonaws.com", "ec2", "RequestSpotFleet", region, le.at)
		e.readOnly = 2
		j := &s.req
		j.obj().k("RequestSpotFleetRequest").obj().k("SpotFleetRequestConfig").obj()
		j.ks("IamFleetRole", "arn:aws:iam::"+acct.ID+":role/aws-ec2-spot-fleet-tagging-role").ki("TargetCapacity", int64(l.Count))
		j.ks("AllocationStrategy", "priceCapacityOptimized").ks("Type", "maintain")
		j.k("LaunchTemplateConfigs").obj().k("LaunchTemplateSpecification").obj().ks("LaunchTemplateId", l.Template.ID).ks("Version", l.RequestedVersion).end().ki("tag", 1).end()
		j.end().end().end()
		e.req = j.b
		k := &s.resp
		k.obj().k("RequestSpotFleetResponse").obj().ks("xmlns", ec2xmlns).ks("requestId", uuid(r)).ks("spotFleetRequestId", l.SpotFleetID).end().end()
		e.resp = k.b
	case lcRunJobFlow:
		l := &p.Launches[le.ref]
		base(r, e, le.by, "elasticmapreduce.amazonaws.com", "elasticmapreduce", "RunJobFlow", region, le.at)
		e.readOnly = 2
		j := &s.req
		j.obj().ks("name", "nightly-etl").ks("releaseLabel", "emr-7.2.0").k("instances").obj().k("instanceGroups").arr()
		j.obj().ks("instanceRole", "MASTER").ks("instanceType", l.InstanceType).ki("instanceCount", 1).end()
		if l.Count > 1 {
			j.obj().ks("instanceRole", "CORE").ks("instanceType", l.InstanceType).ki("instanceCount", int64(l.Count-1)).end()
		}
		j.endArr().kb("keepJobFlowAliveWhenNoSteps", false).end()
		j.ks("serviceRole", "EMR_DefaultRole_V2").ks("jobFlowRole", "EMR_EC2_DefaultRole").end()
		e.req = j.b
		k := &s.resp
		k.obj().ks("jobFlowId", l.JobFlowID).ks("clusterArn", "arn:aws:elasticmapreduce:"+region+":"+acct.ID+":cluster/"+l.JobFlowID).end()
		e.resp = k.b
	case lcTerminate, lcStop, lcStart:
		in := &p.Instances[le.ref]
		name := map[lcKind]string{lcTerminate: "TerminateInstances", lcStop: "StopInstances", lcStart: "StartInstances"}[le.kind]
		base(r, e, le.by, "ec2.amazonaws.com", "ec2", name, region, le.at)
		e.readOnly = 2
		prevCode, prevName, curCode, curName := 16, "running", 32, "shutting-down"
		switch le.kind {
		case lcStop:
			curCode, curName = 64, "stopping"
		case lcStart:
			prevCode, prevName, curCode, curName = 80, "stopped", 0, "pending"
		default:
			for _, st := range in.Stopped {
				if !le.at.Before(st.From) && le.at.Before(st.To) {
					prevCode, prevName = 80, "stopped"
				}
			}
		}
		j := &s.req
		j.obj().k("instancesSet").obj().k("items").arr().obj().ks("instanceId", in.ID).end().endArr().end()
		if le.kind == lcStop {
			j.kb("force", false)
		}
		j.end()
		e.req = j.b
		k := &s.resp
		k.obj().ks("requestId", uuid(r)).k("instancesSet").obj().k("items").arr().obj().ks("instanceId", in.ID)
		k.k("currentState").obj().ki("code", int64(curCode)).ks("name", curName).end()
		k.k("previousState").obj().ki("code", int64(prevCode)).ks("name", prevName).end().end().endArr().end().end()
		e.resp = k.b
	case lcBidEvicted:
		in := &p.Instances[le.ref]
		*e = ev{version: "1.11", at: le.at, source: "ec2.amazonaws.com", name: "BidEvictedEvent", region: region,
			ip: "ec2.amazonaws.com", ua: "ec2.amazonaws.com", noReqID: true, readOnly: 2, eventType: "AwsServiceEvent",
			mgmt: 1, category: "Management", recipient: acct.ID}
		e.ident = func(j *jbuf) {
			j.k("userIdentity").obj().ks("accountId", acct.ID).ks("invokedBy", "ec2.amazonaws.com").end()
		}
		k := &s.sed
		k.obj().k("instanceIdSet").arr().s(in.ID).endArr().end()
		e.sed = k.b
	}
	e.recipient = acct.ID
	if e.eventID == "" {
		e.eventID = le.eventID
	}
	if e.requestID == "" && !e.noReqID {
		e.requestID = uuid(r)
	}
}

func fillTemplateEvent(p *Plan, s *scratch, r *rand.Rand, le *lcEvent, e *ev) {
	t := p.Templates[le.ref]
	region := p.Regions[le.region]
	net := &p.nets[le.acct][le.region]
	name := "CreateLaunchTemplate"
	if le.kind == lcCreateTemplateVersion {
		name = "CreateLaunchTemplateVersion"
	}
	base(r, e, le.by, "ec2.amazonaws.com", "ec2", name, region, le.at)
	e.readOnly = 2
	ami := net.amis[(int(le.version)+len(t.Name))%len(net.amis)]
	data := func(j *jbuf) {
		j.k("LaunchTemplateData").obj().ks("ImageId", ami).ks("InstanceType", t.InstanceType)
		j.k("IamInstanceProfile").obj().ks("Name", "app-instance-profile").end()
		j.k("MetadataOptions").obj().ks("HttpTokens", "required").ki("HttpPutResponseHopLimit", 2).end()
		j.k("SecurityGroupId").obj().ks("content", net.sg).ki("tag", 1).end()
		j.ks("UserData", "<sensitiveDataRemoved>").end()
	}
	requestID := uuid(r)
	e.requestID = requestID
	j := &s.req
	k := &s.resp
	created := le.at.UTC().Format("2006-01-02T15:04:05.000Z")
	if le.kind == lcCreateTemplate {
		j.obj().k("CreateLaunchTemplateRequest").obj().ks("LaunchTemplateName", t.Name).ks("VersionDescription", "initial")
		data(j)
		j.ks("ClientToken", uuid(r)).end().end()
		k.obj().k("CreateLaunchTemplateResponse").obj().ks("xmlns", ec2xmlns).ks("requestId", requestID)
		k.k("launchTemplate").obj().ks("launchTemplateId", t.ID).ks("launchTemplateName", t.Name).ks("createTime", created)
		k.ks("createdBy", le.by.arn).ki("defaultVersionNumber", 1).ki("latestVersionNumber", 1).end().end().end()
	} else {
		desc := fmt.Sprintf("v%d", le.version)
		j.obj().k("CreateLaunchTemplateVersionRequest").obj().ks("LaunchTemplateId", t.ID).ks("SourceVersion", fmt.Sprint(le.version-1)).ks("VersionDescription", desc)
		data(j)
		j.end().end()
		k.obj().k("CreateLaunchTemplateVersionResponse").obj().ks("xmlns", ec2xmlns).ks("requestId", requestID)
		k.k("launchTemplateVersion").obj().ks("launchTemplateId", t.ID).ks("launchTemplateName", t.Name).ki("versionNumber", int64(le.version))
		k.ks("versionDescription", desc).ks("createTime", created).ks("createdBy", le.by.arn).kb("defaultVersion", false)
		k.k("launchTemplateData").obj().ks("imageId", ami).ks("instanceType", t.InstanceType).end().end().end().end()
	}
	e.req, e.resp = j.b, k.b
}

func fillCreateFleet(p *Plan, s *scratch, r *rand.Rand, le *lcEvent, e *ev) {
	l := &p.Launches[le.ref]
	region := p.Regions[l.Region]
	net := &p.nets[l.Account][l.Region]
	base(r, e, le.by, "ec2.amazonaws.com", "ec2", "CreateFleet", region, le.at)
	e.readOnly = 2
	capType := "on-demand"
	if l.Spot {
		capType = "spot"
	}
	subnet := net.subnets[int(l.AZ[len(l.AZ)-1]-'a')]
	j := &s.req
	j.obj().k("CreateFleetRequest").obj()
	j.k("TargetCapacitySpecification").obj().ks("DefaultTargetCapacityType", capType).ki("TotalTargetCapacity", int64(l.Count)).end()
	j.ks("Type", "instant")
	j.k("LaunchTemplateConfigs").obj().k("LaunchTemplateSpecification").obj().ks("LaunchTemplateId", l.Template.ID).ks("Version", l.RequestedVersion).end()
	j.k("Overrides").arr()
	for i, typ := range []string{l.InstanceType, "m6i.2xlarge", "c6g.xlarge"} {
		j.obj().ks("InstanceType", typ).ks("SubnetId", subnet).ks("AvailabilityZone", l.AZ).ki("tag", int64(i+1)).end()
	}
	j.endArr().ki("tag", 1).end()
	j.k("TagSpecification").obj().ks("ResourceType", "fleet").k("Tag").arr().obj().ks("Key", "karpenter.sh/nodepool").ks("Value", "default").ki("tag", 1).end().endArr().ki("tag", 1).end()
	j.ks("ClientToken", uuid(r)).end().end()
	e.req = j.b
	k := &s.resp
	k.obj().k("CreateFleetResponse").obj().ks("xmlns", ec2xmlns).ks("requestId", uuid(r)).ks("fleetId", l.FleetID).ks("errorSet", "")
	k.k("fleetInstanceSet").obj().k("item").obj().k("instanceIds").obj().k("item").arr()
	for _, i := range l.Instances {
		k.s(p.Instances[i].ID)
	}
	k.endArr().end().ks("instanceType", l.InstanceType).ks("lifecycle", capType)
	k.k("launchTemplateAndOverrides").obj().k("launchTemplateSpecification").obj().ks("launchTemplateId", l.Template.ID).ks("version", fmt.Sprint(l.ResolvedVersion)).end()
	k.k("overrides").obj().ks("instanceType", l.InstanceType).ks("availabilityZone", l.AZ).ks("subnetId", subnet).end().end()
	k.end().end().end().end()
	e.resp = k.b
}

// azID turns us-east-1 + "a" into a zone id such as "use1-az1".
func azID(region, az string) string {
	parts := strings.Split(region, "-")
	code := region
	if len(parts) == 3 && len(parts[1]) > 0 {
		code = parts[0] + parts[1][:1] + parts[2]
	}
	return fmt.Sprintf("%s-az%d", code, int(az[len(az)-1]-'a')+1)
}

func fillRunInstances(p *Plan, s *scratch, r *rand.Rand, le *lcEvent, e *ev) {
	l := &p.Launches[le.ref]
	acct := &p.Accounts[l.Account]
	region := p.Regions[l.Region]
	net := &p.nets[l.Account][l.Region]
	base(r, e, l.by, "ec2.amazonaws.com", "ec2", "RunInstances", region, l.At)
	e.readOnly = 2
	e.version = pick(r, []string{"1.10", "1.11", "1.11"})
	e.eventID = l.EventID
	switch l.Kind {
	case LauncherEC2Fleet:
		e.invokedBy, e.ip, e.ua, e.tlsHost = "ec2fleet.amazonaws.com", "ec2fleet.amazonaws.com", "ec2fleet.amazonaws.com", ""
	case LauncherEKS:
		e.version = "1.08"
	case LauncherCLI:
		// Whoever runs the CLI, the record shows the CLI (an SSO admin's session included).
		e.console, e.ua = false, cliUserAgent(r, "ec2", "RunInstances")
	case LauncherConsole:
		e.console, e.ua = true, pick(r, browserAgents)
	}
	subnet := net.subnets[int(l.AZ[len(l.AZ)-1]-'a')]
	clientToken := uuid(r)
	if l.FleetID != "" && l.Kind != LauncherEC2Fleet {
		clientToken = strings.TrimPrefix(l.FleetID, "fleet-")
		clientToken = "fleet-" + clientToken + "-0"
	}
	ami := ""
	if l.Template == nil {
		ami = net.amis[r.IntN(len(net.amis))]
	} else {
		ami = net.amis[(l.ResolvedVersion+len(l.Template.Name))%len(net.amis)]
	}
	var tags [][2]string
	if t := l.Template; t != nil {
		tags = append(tags, [2]string{"aws:ec2launchtemplate:id", t.ID}, [2]string{"aws:ec2launchtemplate:version", fmt.Sprint(l.ResolvedVersion)})
	}
	if l.GroupName != "" {
		tags = append(tags, [2]string{"aws:autoscaling:groupName", l.GroupName})
	}
	if l.FleetID != "" {
		tags = append(tags, [2]string{"aws:ec2:fleet-id", l.FleetID})
	}
	if l.SpotFleetID != "" {
		tags = append(tags, [2]string{"aws:ec2spot:fleet-request-id", l.SpotFleetID})
	}
	if l.Kind == LauncherEKS {
		tags = append(tags, [2]string{"eks:cluster-name", l.Cluster}, [2]string{"eks:nodegroup-name", "ng-general"},
			[2]string{"kubernetes.io/cluster/" + l.Cluster, "owned"})
	}
	var userTags [][2]string
	switch l.Kind {
	case LauncherConsole, LauncherCLI, LauncherSDK:
		userTags = [][2]string{{"Name", pick(r, []string{"test-box", "jumphost", "load-test", "orders-api", "scratch"})}, {"Owner", strings.SplitN(l.by.arn[strings.LastIndexByte(l.by.arn, '/')+1:], "@", 2)[0]}}
	case LauncherEKS:
		userTags = tags[len(tags)-3:]
	}
	// Request.
	j := &s.req
	j.obj().k("instancesSet").obj().k("items").arr().obj()
	if l.Template == nil {
		j.ks("imageId", ami)
	}
	j.ki("minCount", int64(l.Count)).ki("maxCount", int64(l.Count))
	if l.Template == nil && l.Kind != LauncherEMR {
		j.ks("keyName", "ops-key")
	}
	j.end().endArr().end()
	if l.Template == nil || l.Kind == LauncherEC2Fleet {
		j.ks("instanceType", l.InstanceType)
	}
	j.k("blockDeviceMapping").empty()
	if l.Kind == LauncherAutoScaling || l.Kind == LauncherEKS || l.Kind == LauncherEC2Fleet {
		j.ks("availabilityZone", l.AZ)
	}
	j.k("monitoring").obj().kb("enabled", false).end()
	j.ks("subnetId", subnet).kb("disableApiTermination", false).kb("disableApiStop", false).ks("clientToken", clientToken)
	if l.Template == nil {
		j.ks("userData", "<sensitiveDataRemoved>")
		j.k("groupSet").obj().k("items").arr().obj().ks("groupId", net.sg).end().endArr().end()
	}
	if l.Spot && l.Kind != LauncherSpotFleet {
		j.k("instanceMarketOptions").obj().ks("marketType", "spot").k("spotOptions").obj().ks("spotInstanceType", "one-time").ks("instanceInterruptionBehavior", "terminate").end().end()
	}
	reqTags := userTags
	if l.GroupName != "" {
		reqTags = append([][2]string{{"aws:autoscaling:groupName", l.GroupName}}, userTags...)
	}
	if l.JobFlowID != "" {
		reqTags = [][2]string{{"aws:elasticmapreduce:job-flow-id", l.JobFlowID}, {"aws:elasticmapreduce:instance-group-role", "CORE"}}
		tags = append(tags, reqTags...)
	}
	if len(reqTags) > 0 {
		j.k("tagSpecificationSet").obj().k("items").arr().obj().ks("resourceType", "instance").k("tags").arr()
		for _, t := range reqTags {
			j.obj().ks("key", t[0]).ks("value", t[1]).end()
		}
		j.endArr().end().endArr().end()
	}
	if t := l.Template; t != nil {
		j.k("launchTemplate").obj()
		if l.ByName {
			j.ks("launchTemplateName", t.Name)
		} else {
			j.ks("launchTemplateId", t.ID)
		}
		j.ks("version", l.RequestedVersion).end()
	}
	if l.Outcome == OutcomeDryRun {
		j.kb("dryRun", true)
	}
	j.end()
	e.req = j.b
	switch l.Outcome {
	case OutcomeDryRun:
		e.errCode, e.errMsg = "Client.DryRunOperation", "Request would have succeeded, but DryRun flag is set."
		return
	case OutcomeUnauthorized:
		e.errCode = "Client.UnauthorizedOperation"
		e.errMsg = "You are not authorized to perform this operation. User: " + l.by.arn + " is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:" + region + ":" + acct.ID + ":instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: " + chars(r, anyAlnum+"-_", 420)
		return
	case OutcomeNoCapacity:
		e.errCode = "Server.InsufficientInstanceCapacity"
		e.errMsg = "We currently do not have sufficient " + l.InstanceType + " capacity in the Availability Zone you requested (" + l.AZ + "). Our system will be working on provisioning additional capacity. You can currently get " + l.InstanceType + " capacity by not specifying an Availability Zone in your request or choosing " + region + "b, " + region + "c."
		return
	}
	// Response.
	k := &s.resp
	requestID := uuid(r)
	e.requestID = requestID
	k.obj().ks("requestId", requestID).ks("reservationId", awsID(r, "r-")).ks("ownerId", acct.ID)
	k.k("groupSet").empty()
	k.k("instancesSet").obj().k("items").arr()
	domain := region + ".compute.internal"
	if region == "us-east-1" {
		domain = "ec2.internal"
	}
	for n, idx := range l.Instances {
		in := &p.Instances[idx]
		ip := fmt.Sprintf("10.%d.%d.%d", l.Region, r.IntN(256), 1+r.IntN(254))
		dns := "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + domain
		k.obj().ks("instanceId", in.ID).ks("imageId", ami).k("instanceState").obj().ki("code", 0).ks("name", "pending").end()
		k.ks("privateDnsName", dns).k("operator").obj().kb("managed", false).end().ki("amiLaunchIndex", int64(n)).k("productCodes").empty()
		k.ks("instanceType", in.InstanceType).ki("launchTime", epochMillis(in.LaunchTime))
		k.k("placement").obj().ks("availabilityZone", in.AvailabilityZone).ks("availabilityZoneId", azID(region, in.AvailabilityZone)).ks("tenancy", "default").end()
		k.k("monitoring").obj().ks("state", "disabled").end().ks("subnetId", subnet).ks("vpcId", net.vpc).ks("privateIpAddress", ip)
		k.k("stateReason").obj().ks("code", "pending").ks("message", "pending").end()
		arch := "x86_64"
		if strings.HasPrefix(in.InstanceType, "c6g") {
			arch = "arm64"
		}
		k.ks("architecture", arch).ks("rootDeviceType", "ebs").ks("rootDeviceName", "/dev/xvda").k("blockDeviceMapping").empty()
		k.ks("virtualizationType", "hvm").ks("hypervisor", "xen")
		if in.Spot {
			k.ks("instanceLifecycle", "spot").ks("spotInstanceRequestId", "sir-"+chars(r, "abcdefghijklmnopqrstuvwxyz0123456789", 8))
		}
		allTags := append(append([][2]string{}, tags...), userTags...)
		if len(allTags) > 0 {
			k.k("tagSet").obj().k("items").arr()
			seen := map[string]bool{}
			for _, t := range allTags {
				if seen[t[0]] {
					continue
				}
				seen[t[0]] = true
				k.obj().ks("key", t[0]).ks("value", t[1]).end()
			}
			k.endArr().end()
		}
		k.ks("clientToken", clientToken)
		k.k("groupSet").obj().k("items").arr().obj().ks("groupId", net.sg).ks("groupName", "default").end().endArr().end()
		k.kb("sourceDestCheck", true)
		k.k("networkInterfaceSet").obj().k("items").arr().obj().ks("networkInterfaceId", awsID(r, "eni-")).ks("subnetId", subnet).ks("vpcId", net.vpc)
		k.ks("ownerId", acct.ID).ks("status", "in-use").ks("macAddress", fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256)))
		k.ks("privateIpAddress", ip).ks("privateDnsName", dns).kb("sourceDestCheck", true).ks("interfaceType", "interface")
		k.k("attachment").obj().ks("attachmentId", awsID(r, "eni-attach-")).ki("deviceIndex", 0).ki("networkCardIndex", 0).ks("status", "attaching").ki("attachTime", epochMillis(in.LaunchTime)).kb("deleteOnTermination", true).end()
		k.end().endArr().end()
		k.kb("ebsOptimized", false).kb("enaSupport", true)
		if l.Template != nil || l.Kind == LauncherEMR {
			k.k("iamInstanceProfile").obj().ks("arn", "arn:aws:iam::"+acct.ID+":instance-profile/app-instance-profile").ks("id", "AIPA"+chars(r, upperAlnum, 17)).end()
		}
		k.k("cpuOptions").obj().ki("coreCount", 1).ki("threadsPerCore", 2).end()
		k.k("metadataOptions").obj().ks("state", "pending").ks("httpTokens", "required").ki("httpPutResponseHopLimit", 2).ks("httpEndpoint", "enabled").end()
		k.end()
	}
	k.endArr().end()
	if req, ok := serviceRequesters[l.Kind]; ok {
		k.ks("requesterId", req)
	}
	k.end()
	e.resp = k.b
	if l.Kind != LauncherEKS {
		res := &s.res
		res.arr()
		for _, idx := range l.Instances {
			res.obj().ks("accountId", acct.ID).ks("type", "AWS::EC2::Instance").ks("ARN", "arn:aws:ec2:"+region+":"+acct.ID+":instance/"+p.Instances[idx].ID).end()
		}
		res.endArr()
		e.resources = res.b
	}
}
