package configtest

import "fmt"

// Scenario identifiers. The account and region are the example values of AWS's docs.
const (
	Account      = "123456789012"
	Region       = "us-east-1"
	ApprovedLT   = "lt-0a1b2c3d4e5f60001" // "web-approved": version 2 is the approved one
	ApprovedName = "web-approved"
	RogueLT      = "lt-0a1b2c3d4e5f60002" // "web-rogue": never approved
	RogueName    = "web-rogue"
	WebGroup     = "web-asg"
	BatchGroup   = "batch-asg"
)

// GroupARN is the ARN (and Config resource id) of a scenario group.
func GroupARN(name string) string {
	uuid := map[string]string{WebGroup: "5b4f4c2e-1a2b-4c3d-8e9f-000000000001", BatchGroup: "5b4f4c2e-1a2b-4c3d-8e9f-000000000002"}[name]
	return fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", Region, Account, uuid, name)
}

// Items is the scenario's configuration items, each built from its resource type's schema:
//
//   - launch template web-approved (ApprovedLT): v1 on Jan 1, v2 (latest and default) from Jan 3;
//   - launch template web-rogue (RogueLT);
//   - group web-asg, whose definition changes every day: Jan 1 10:00 launch configuration
//     web-lc (instance i-…001), Jan 2 web-approved v1 (i-…002), Jan 3 web-rogue v1 (i-…002,
//     i-…003), Jan 4 web-approved v2 (i-…004), deleted Jan 6;
//   - group batch-asg with a mixed instances policy on web-approved "$Latest" (Jan 2, when the
//     latest version is 1; Jan 4, when it is 2), then Jan 5 with an override on web-rogue;
//   - the four instances of web-asg.
func Items(root string) ([]map[string]any, error) {
	asg, err := LoadSchema(root, "AWS::AutoScaling::AutoScalingGroup")
	if err != nil {
		return nil, err
	}
	lt, err := LoadSchema(root, "AWS::EC2::LaunchTemplate")
	if err != nil {
		return nil, err
	}
	ec2, err := LoadSchema(root, "AWS::EC2::Instance")
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	add := func(s *Schema, p map[string]any) error {
		p["accountId"] = Account
		p["awsRegion"] = Region
		if _, ok := p["configurationItemStatus"]; !ok {
			p["configurationItemStatus"] = "OK"
		}
		p["version"] = "1.3"
		it, err := s.Build(p)
		if err != nil {
			return err
		}
		out = append(out, it)
		return nil
	}
	ltItem := func(id, name, at, latest, def, state string) error {
		return add(lt, map[string]any{
			"resourceId": id, "resourceName": name, "configurationItemCaptureTime": at, "configurationStateId": state,
			"arn":                                           "arn:aws:ec2:" + Region + ":" + Account + ":launch-template/" + id,
			"availabilityZone":                              "Regional",
			"resourceCreationTime":                          "2026-01-01T00:00:00.000Z",
			"configuration.Id":                              id,
			"configuration.LaunchTemplateName":              name,
			"configuration.LatestVersionNumber":             latest,
			"configuration.DefaultVersionNumber":            def,
			"configuration.LaunchTemplateData.ImageId":      "ami-0abcdef1234567890",
			"configuration.LaunchTemplateData.InstanceType": "m5.large",
		})
	}
	if err := ltItem(ApprovedLT, ApprovedName, "2026-01-01T00:00:00.000Z", "1", "1", "1767225600000"); err != nil {
		return nil, err
	}
	if err := ltItem(ApprovedLT, ApprovedName, "2026-01-03T00:00:00.000Z", "2", "2", "1767398400000"); err != nil {
		return nil, err
	}
	if err := ltItem(RogueLT, RogueName, "2026-01-01T00:00:00.000Z", "1", "1", "1767225600001"); err != nil {
		return nil, err
	}
	group := func(name, at, status string, p map[string]any) error {
		p["resourceId"] = GroupARN(name)
		p["resourceName"] = name
		p["arn"] = GroupARN(name)
		p["configurationItemCaptureTime"] = at
		p["configurationItemStatus"] = status
		p["configurationStateId"] = "1"
		p["availabilityZone"] = "Multiple Availability Zones"
		p["resourceCreationTime"] = "2026-01-01T10:00:00.000Z"
		if status != "ResourceDeleted" {
			p["configuration.autoScalingGroupName"] = name
			p["configuration.autoScalingGroupARN"] = GroupARN(name)
			p["configuration.minSize"] = 1
			p["configuration.maxSize"] = 4
			p["configuration.desiredCapacity"] = 1
			p["configuration.vpczoneIdentifier"] = "subnet-0abc1234"
		}
		return add(asg, p)
	}
	inst := func(n int) string { return fmt.Sprintf("i-0aa00000000000%03d", n) }
	member := func(p map[string]any, i int, id string) {
		p[fmt.Sprintf("configuration.instances[%d].instanceId", i)] = id
		p[fmt.Sprintf("configuration.instances[%d].lifecycleState", i)] = "InService"
		p[fmt.Sprintf("configuration.instances[%d].instanceType", i)] = "m5.large"
	}
	steps := []struct {
		at     string
		status string
		tmpl   [3]string // id, name, version; empty id = launch configuration
		insts  []int
	}{
		{"2026-01-01T10:00:00.000Z", "ResourceDiscovered", [3]string{}, []int{1}},
		{"2026-01-02T10:00:00.000Z", "OK", [3]string{ApprovedLT, ApprovedName, "1"}, []int{2}},
		{"2026-01-03T10:00:00.000Z", "OK", [3]string{RogueLT, RogueName, "1"}, []int{2, 3}},
		{"2026-01-04T10:00:00.000Z", "OK", [3]string{ApprovedLT, ApprovedName, "2"}, []int{4}},
		{"2026-01-06T10:00:00.000Z", "ResourceDeleted", [3]string{}, nil},
	}
	for _, s := range steps {
		p := map[string]any{}
		if s.status != "ResourceDeleted" {
			if s.tmpl[0] == "" {
				p["configuration.launchConfigurationName"] = "web-lc"
			} else {
				p["configuration.launchTemplate.launchTemplateId"] = s.tmpl[0]
				p["configuration.launchTemplate.launchTemplateName"] = s.tmpl[1]
				p["configuration.launchTemplate.version"] = s.tmpl[2]
			}
			for i, n := range s.insts {
				member(p, i, inst(n))
			}
			p["tags.team"] = "web"
		}
		if err := group(WebGroup, s.at, s.status, p); err != nil {
			return nil, err
		}
	}
	for _, s := range []struct {
		at       string
		override bool
	}{{"2026-01-02T12:00:00.000Z", false}, {"2026-01-04T12:00:00.000Z", false}, {"2026-01-05T12:00:00.000Z", true}} {
		p := map[string]any{
			"configuration.mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.launchTemplateId":   ApprovedLT,
			"configuration.mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.launchTemplateName": ApprovedName,
			"configuration.mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version":            "$Latest",
			"configuration.mixedInstancesPolicy.launchTemplate.overrides[0].instanceType":                      "m5.large",
			"configuration.mixedInstancesPolicy.instancesDistribution.onDemandBaseCapacity":                    0,
			"configuration.mixedInstancesPolicy.instancesDistribution.spotAllocationStrategy":                  "price-capacity-optimized",
		}
		if s.override {
			p["configuration.mixedInstancesPolicy.launchTemplate.overrides[1].instanceType"] = "c5.large"
			p["configuration.mixedInstancesPolicy.launchTemplate.overrides[1].launchTemplateSpecification.launchTemplateId"] = RogueLT
			p["configuration.mixedInstancesPolicy.launchTemplate.overrides[1].launchTemplateSpecification.version"] = "1"
		}
		if err := group(BatchGroup, s.at, "OK", p); err != nil {
			return nil, err
		}
	}
	for n := 1; n <= 4; n++ {
		err := add(ec2, map[string]any{
			"resourceId": inst(n), "configurationItemCaptureTime": fmt.Sprintf("2026-01-0%dT10:01:00.000Z", n),
			"configurationItemStatus": "ResourceDiscovered", "configurationStateId": "1",
			"arn":                            "arn:aws:ec2:" + Region + ":" + Account + ":instance/" + inst(n),
			"availabilityZone":               "us-east-1a",
			"resourceCreationTime":           fmt.Sprintf("2026-01-0%dT10:00:30.000Z", n),
			"configuration.instanceId":       inst(n),
			"configuration.instanceType":     "m5.large",
			"configuration.imageId":          "ami-0abcdef1234567890",
			"configuration.state.name":       "running",
			"configuration.state.code":       "16",
			"relationships[0].resourceId":    "subnet-0abc1234",
			"relationships[0].resourceType":  "AWS::EC2::Subnet",
			"tags.aws:autoscaling:groupName": WebGroup,
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
