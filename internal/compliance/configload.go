package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/configitems"
	"github.com/auditlake/auditlake/internal/query"
)

// groupsSQL reads every Auto Scaling group item of a Config store; %s is the store's table.
const groupsSQL = `SELECT eventdata.resourceid, coalesce(eventdata.resourcename, ''), coalesce(eventdata.arn, ''), eventtime,
	coalesce(eventdata.configurationitemstatus, ''), coalesce(to_json(eventdata.configuration)::VARCHAR, '{}')
FROM %s WHERE eventdata.resourcetype = 'AWS::AutoScaling::AutoScalingGroup'
ORDER BY eventdata.resourceid, eventtime`

// templatesSQL reads every launch template item of a Config store. The property schema spells
// the configuration keys in PascalCase (Id, LaunchTemplateName, LatestVersionNumber).
const templatesSQL = `SELECT eventdata.resourceid, coalesce(eventdata.resourcename, ''), eventtime, coalesce(eventdata.configurationitemstatus, ''),
	coalesce(eventdata.configuration['Id'], eventdata.configuration['launchTemplateId'], ''),
	coalesce(eventdata.configuration['LaunchTemplateName'], eventdata.configuration['launchTemplateName'], ''),
	coalesce(eventdata.configuration['LatestVersionNumber'], eventdata.configuration['latestVersionNumber'], ''),
	coalesce(eventdata.configuration['DefaultVersionNumber'], eventdata.configuration['defaultVersionNumber'], '')
FROM %s WHERE eventdata.resourcetype = 'AWS::EC2::LaunchTemplate'
ORDER BY eventtime`

// LoadGroups reads the Auto Scaling group items of the Config store storeID, oldest first per
// group, through a query session (which registers config stores).
func LoadGroups(ctx context.Context, s *query.Session, storeID string) ([]configitems.GroupState, error) {
	res, err := s.RunInternal(ctx, fmt.Sprintf(groupsSQL, query.StoreTable(storeID)))
	if err != nil {
		return nil, fmt.Errorf("read auto scaling group items of store %s: %w", storeID, err)
	}
	out := make([]configitems.GroupState, 0, len(res.Rows))
	for _, r := range res.Rows {
		g := configitems.GroupState{ResourceID: r[0].(string), Name: r[1].(string), ARN: r[2].(string), CaptureTime: r[3].(time.Time).UTC(), Status: r[4].(string)}
		conf := map[string]string{}
		var raw map[string]*string
		if err := json.Unmarshal([]byte(r[5].(string)), &raw); err != nil {
			return nil, fmt.Errorf("read configuration of group %s: %w", g.ResourceID, err)
		}
		for k, v := range raw {
			if v != nil {
				conf[k] = *v
			}
		}
		if err := configitems.ParseGroup(&g, conf); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// LoadTemplates reads the launch template items of the Config store storeID.
func LoadTemplates(ctx context.Context, s *query.Session, storeID string) (*configitems.Templates, error) {
	res, err := s.RunInternal(ctx, fmt.Sprintf(templatesSQL, query.StoreTable(storeID)))
	if err != nil {
		return nil, fmt.Errorf("read launch template items of store %s: %w", storeID, err)
	}
	var items []configitems.TemplateState
	for _, r := range res.Rows {
		t := configitems.TemplateState{ID: r[4].(string), Name: r[5].(string), CaptureTime: r[2].(time.Time).UTC(), Status: r[3].(string),
			LatestVersion: r[6].(string), DefaultVersion: r[7].(string)}
		if t.ID == "" {
			t.ID = r[0].(string) // Config's resource id of a launch template is its lt- id
		}
		if t.Name == "" {
			t.Name = r[1].(string)
		}
		items = append(items, t)
	}
	return configitems.NewTemplates(items), nil
}

// LaunchTemplateIDs maps launch template names to ids from the AWS::EC2::LaunchTemplate items of
// the Config store storeID (the latest item of a name wins). The launch compliance report uses
// it for launches that name their template only by name.
func LaunchTemplateIDs(ctx context.Context, s *query.Session, storeID string) (map[string]string, error) {
	t, err := LoadTemplates(ctx, s, storeID)
	if err != nil {
		return nil, err
	}
	return t.NameToID(), nil
}

// InstanceGroups lists which Auto Scaling group each instance belonged to, from the groups'
// configuration.instances over time in the Config store storeID.
func InstanceGroups(ctx context.Context, s *query.Session, storeID string) ([]configitems.Membership, error) {
	g, err := LoadGroups(ctx, s, storeID)
	if err != nil {
		return nil, err
	}
	return configitems.Memberships(g), nil
}
