package configitems

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Verdicts of a Config rule evaluation.
const (
	Compliant     = "COMPLIANT"
	NonCompliant  = "NON_COMPLIANT"
	NotApplicable = "NOT_APPLICABLE" // the item records a deleted group
)

// RuleAutoScalingLaunchTemplate is the name of the managed rule evaluated by EvaluateLaunchTemplate.
const RuleAutoScalingLaunchTemplate = "autoscaling-launch-template"

// TemplateRef is a launch template as an Auto Scaling group names it.
type TemplateRef struct {
	ID      string `json:"launchTemplateId,omitempty"`
	Name    string `json:"launchTemplateName,omitempty"`
	Version string `json:"version,omitempty"`
}

// GroupState is one configuration item of an Auto Scaling group.
type GroupState struct {
	ResourceID  string // in Config, the group's ARN
	Name        string
	ARN         string
	CaptureTime time.Time
	Status      string
	// LaunchConfiguration is configuration.launchConfigurationName.
	LaunchConfiguration string
	// Template is configuration.launchTemplate, or else the mixed instances policy's
	// launchTemplateSpecification; nil when the group names neither.
	Template *TemplateRef
	// Mixed is true when Template comes from the mixed instances policy.
	Mixed bool
	// Overrides are the launch templates of mixed-instances overrides that name their own.
	Overrides []TemplateRef
	// Instances are the ids in configuration.instances.
	Instances []string
}

// TemplateState is one configuration item of an AWS::EC2::LaunchTemplate.
type TemplateState struct {
	ID, Name                      string
	CaptureTime                   time.Time
	Status                        string
	LatestVersion, DefaultVersion string
}

// Approved is one entry of the strict check's allow-list: a template by id or name, and its
// approved versions (none = every version).
type Approved struct {
	ID, Name string
	Versions []string
}

// Evaluation is the verdict on one configuration item of a group.
type Evaluation struct {
	GroupState
	// ResolvedVersion is the template version the group launches: Template.Version, or the
	// number $Latest/$Default (or no version) stood for at the capture time, from the template's
	// own configuration items; the symbolic version when no item tells.
	ResolvedVersion string
	// Managed is the verdict of the managed rule: COMPLIANT when the group uses a launch
	// template (directly or in a mixed instances policy), whichever it is.
	Managed string
	// Strict is COMPLIANT only when every template the group launches from is approved, at an
	// approved version. Reason explains it.
	Strict string
	Reason string
}

// ParseGroup reads the fields the rule needs from a group's configuration map (top-level keys,
// nested values as JSON text, as stored in eventdata.configuration).
func ParseGroup(g *GroupState, conf map[string]string) error {
	if g.Name == "" {
		g.Name = conf["autoScalingGroupName"]
	}
	if g.ARN == "" {
		g.ARN = conf["autoScalingGroupARN"]
	}
	g.LaunchConfiguration = conf["launchConfigurationName"]
	if s := conf["launchTemplate"]; s != "" && s != "null" {
		var t TemplateRef
		if err := json.Unmarshal([]byte(s), &t); err != nil {
			return fmt.Errorf("group %s: launchTemplate: %w", g.ResourceID, err)
		}
		if t.ID != "" || t.Name != "" {
			g.Template = &t
		}
	}
	if s := conf["mixedInstancesPolicy"]; s != "" && s != "null" {
		var m struct {
			LaunchTemplate struct {
				Spec      *TemplateRef `json:"launchTemplateSpecification"`
				Overrides []struct {
					Spec *TemplateRef `json:"launchTemplateSpecification"`
				} `json:"overrides"`
			} `json:"launchTemplate"`
		}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return fmt.Errorf("group %s: mixedInstancesPolicy: %w", g.ResourceID, err)
		}
		if g.Template == nil && m.LaunchTemplate.Spec != nil && (m.LaunchTemplate.Spec.ID != "" || m.LaunchTemplate.Spec.Name != "") {
			g.Template = m.LaunchTemplate.Spec
			g.Mixed = true
		}
		for _, o := range m.LaunchTemplate.Overrides {
			if o.Spec != nil && (o.Spec.ID != "" || o.Spec.Name != "") {
				g.Overrides = append(g.Overrides, *o.Spec)
			}
		}
	}
	if s := conf["instances"]; s != "" && s != "null" {
		var insts []struct {
			InstanceID string `json:"instanceId"`
		}
		if err := json.Unmarshal([]byte(s), &insts); err != nil {
			return fmt.Errorf("group %s: instances: %w", g.ResourceID, err)
		}
		for _, i := range insts {
			if i.InstanceID != "" {
				g.Instances = append(g.Instances, i.InstanceID)
			}
		}
	}
	return nil
}

func deleted(status string) bool { return strings.HasPrefix(status, "ResourceDeleted") }

// Templates indexes launch-template items for resolving names, ids and symbolic versions as of
// a moment.
type Templates struct{ items []TemplateState }

// NewTemplates indexes template items (any order).
func NewTemplates(items []TemplateState) *Templates {
	t := &Templates{items: append([]TemplateState(nil), items...)}
	sort.SliceStable(t.items, func(i, j int) bool { return t.items[i].CaptureTime.Before(t.items[j].CaptureTime) })
	return t
}

// At returns the state of the template named by ref (id, or else name) at time at: its latest
// item captured at or before at, or else its earliest item.
func (t *Templates) At(ref TemplateRef, at time.Time) (TemplateState, bool) {
	var best TemplateState
	found := false
	for _, s := range t.items {
		if (ref.ID != "" && s.ID == ref.ID) || (ref.ID == "" && ref.Name != "" && s.Name == ref.Name) {
			if !found || !s.CaptureTime.After(at) {
				best, found = s, true
			}
			if s.CaptureTime.After(at) {
				break
			}
		}
	}
	return best, found
}

// NameToID maps each launch template name to its id (the latest item wins).
func (t *Templates) NameToID() map[string]string {
	out := map[string]string{}
	for _, s := range t.items {
		if s.Name != "" && s.ID != "" {
			out[s.Name] = s.ID
		}
	}
	return out
}

// resolve fills in a template ref's id and name and returns its concrete version at time at.
func (t *Templates) resolve(ref TemplateRef, at time.Time) (TemplateRef, string) {
	v := ref.Version
	st, ok := t.At(ref, at)
	if ok {
		if ref.ID == "" {
			ref.ID = st.ID
		}
		if ref.Name == "" {
			ref.Name = st.Name
		}
	}
	switch v {
	case "", "$Default":
		if ok && st.DefaultVersion != "" {
			return ref, st.DefaultVersion
		}
		if v == "" {
			v = "$Default"
		}
	case "$Latest":
		if ok && st.LatestVersion != "" {
			return ref, st.LatestVersion
		}
	}
	return ref, v
}

// EvaluateLaunchTemplate evaluates every group item as the managed rule autoscaling-launch-template
// does, and by the stricter check against approved, resolving template names, ids and
// $Latest/$Default through templates. The result is ordered by group, then capture time.
func EvaluateLaunchTemplate(groups []GroupState, templates *Templates, approved []Approved) []Evaluation {
	if templates == nil {
		templates = NewTemplates(nil)
	}
	out := make([]Evaluation, 0, len(groups))
	for _, g := range groups {
		e := Evaluation{GroupState: g}
		switch {
		case deleted(g.Status):
			e.Managed, e.Strict, e.Reason = NotApplicable, NotApplicable, "the group was deleted"
		case g.Template == nil:
			e.Managed, e.Strict = NonCompliant, NonCompliant
			if g.LaunchConfiguration != "" {
				e.Reason = fmt.Sprintf("uses launch configuration %s, not a launch template", g.LaunchConfiguration)
			} else {
				e.Reason = "names no launch template"
			}
		default:
			e.Managed = Compliant
			ref, v := templates.resolve(*g.Template, g.CaptureTime)
			e.Template = &ref
			e.ResolvedVersion = v
			e.Strict, e.Reason = strict(ref, g.Template.Version, v, approved)
			if e.Strict == Compliant {
				for _, o := range g.Overrides {
					oref, ov := templates.resolve(o, g.CaptureTime)
					if verdict, why := strict(oref, o.Version, ov, approved); verdict != Compliant {
						e.Strict, e.Reason = verdict, "override: "+why
						break
					}
				}
			}
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ResourceID != out[j].ResourceID {
			return out[i].ResourceID < out[j].ResourceID
		}
		return out[i].CaptureTime.Before(out[j].CaptureTime)
	})
	return out
}

func label(ref TemplateRef) string {
	switch {
	case ref.ID != "" && ref.Name != "":
		return ref.ID + " (" + ref.Name + ")"
	case ref.ID != "":
		return ref.ID
	}
	return ref.Name
}

func strict(ref TemplateRef, asNamed, version string, approved []Approved) (string, string) {
	shown := version
	if asNamed != version && asNamed != "" {
		shown = version + " (" + asNamed + ")"
	}
	known := false
	var versions []string
	for _, a := range approved {
		if (a.ID != "" && a.ID == ref.ID) || (a.Name != "" && a.Name == ref.Name) {
			known = true
			if len(a.Versions) == 0 || slices.Contains(a.Versions, version) {
				return Compliant, fmt.Sprintf("approved template %s version %s", label(ref), shown)
			}
			versions = append(versions, a.Versions...)
		}
	}
	if !known {
		if len(approved) == 0 {
			return NonCompliant, fmt.Sprintf("template %s is not approved (no approved templates given)", label(ref))
		}
		return NonCompliant, fmt.Sprintf("template %s is not an approved template", label(ref))
	}
	if strings.HasPrefix(version, "$") {
		return NonCompliant, fmt.Sprintf("template %s version %s could not be resolved to a number to check against approved versions %s", label(ref), version, strings.Join(versions, ","))
	}
	return NonCompliant, fmt.Sprintf("template %s version %s is not an approved version (approved: %s)", label(ref), shown, strings.Join(versions, ","))
}

// StateAt returns, for each group, the evaluation of its latest item captured at or before at
// (groups first recorded after at are left out), ordered by group.
func StateAt(evals []Evaluation, at time.Time) []Evaluation {
	latest := map[string]int{}
	var order []string
	for i, e := range evals {
		if e.CaptureTime.After(at) {
			continue
		}
		j, ok := latest[e.ResourceID]
		if !ok {
			order = append(order, e.ResourceID)
		}
		if !ok || !e.CaptureTime.Before(evals[j].CaptureTime) {
			latest[e.ResourceID] = i
		}
	}
	sort.Strings(order)
	out := make([]Evaluation, 0, len(order))
	for _, id := range order {
		out = append(out, evals[latest[id]])
	}
	return out
}

// Membership is an instance seen in an Auto Scaling group's configuration.instances: the group,
// and the capture times of the first and last group items that listed it.
type Membership struct {
	InstanceID          string
	GroupName, GroupARN string
	FirstSeen, LastSeen time.Time
}

// Memberships derives which group each instance belonged to from the groups' items over time.
// The result is ordered by instance id, then first seen.
func Memberships(groups []GroupState) []Membership {
	type key struct{ inst, group string }
	idx := map[key]int{}
	var out []Membership
	for _, g := range groups {
		for _, inst := range g.Instances {
			k := key{inst, g.ResourceID}
			i, ok := idx[k]
			if !ok {
				idx[k] = len(out)
				out = append(out, Membership{InstanceID: inst, GroupName: g.Name, GroupARN: g.ARN, FirstSeen: g.CaptureTime, LastSeen: g.CaptureTime})
				continue
			}
			if g.CaptureTime.Before(out[i].FirstSeen) {
				out[i].FirstSeen = g.CaptureTime
			}
			if g.CaptureTime.After(out[i].LastSeen) {
				out[i].LastSeen = g.CaptureTime
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].InstanceID != out[j].InstanceID {
			return out[i].InstanceID < out[j].InstanceID
		}
		return out[i].FirstSeen.Before(out[j].FirstSeen)
	})
	return out
}
