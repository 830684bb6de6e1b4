package compliance

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// ApprovedTemplate is one entry of the allow-list: a template by id (lt-…) or by name, and the
// versions approved (none listed = every version).
type ApprovedTemplate struct {
	ID       string   `json:"id,omitempty"`
	Name     string   `json:"name,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// Approvals is the allow-list of launch templates.
type Approvals struct {
	Templates []ApprovedTemplate `json:"approved_templates"`
}

// ParseApproved parses one --approved-template value: "lt-…" (all versions), "lt-…:3",
// "lt-…:1,2", or a template name with the same optional ":versions".
func ParseApproved(v string) (ApprovedTemplate, error) {
	v = strings.TrimSpace(v)
	ref, vers, hasVers := strings.Cut(v, ":")
	if ref == "" {
		return ApprovedTemplate{}, fmt.Errorf("approved template %q: empty template id or name", v)
	}
	var a ApprovedTemplate
	if strings.HasPrefix(ref, "lt-") {
		a.ID = ref
	} else {
		a.Name = ref
	}
	if hasVers {
		for _, x := range strings.Split(vers, ",") {
			if x = strings.TrimSpace(x); x == "" {
				return ApprovedTemplate{}, fmt.Errorf("approved template %q: empty version", v)
			}
			a.Versions = append(a.Versions, x)
		}
	}
	return a, nil
}

// Config is the --approved-config file: {"approved_templates":[…],"require_autoscaling":false}.
type Config struct {
	Approvals
	RequireAutoScaling bool `json:"require_autoscaling"`
}

// LoadConfig reads an --approved-config JSON file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read approved config %q: %w", path, err)
	}
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse approved config %q: %w", path, err)
	}
	for i, t := range c.Templates {
		if t.ID == "" && t.Name == "" {
			return nil, fmt.Errorf("approved config %q: approved_templates[%d] has neither id nor name", path, i)
		}
	}
	return &c, nil
}

// match reports whether the template (id, name, version) is approved. A template entry matched
// by id or name with a version list approves only those versions.
func (a Approvals) match(id, name, version string) (templateKnown, approved bool) {
	for _, t := range a.Templates {
		if (t.ID != "" && t.ID == id) || (t.Name != "" && t.Name == name) {
			templateKnown = true
			if len(t.Versions) == 0 || slices.Contains(t.Versions, version) {
				return true, true
			}
		}
	}
	return templateKnown, false
}
