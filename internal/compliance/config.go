package compliance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/auditlake/auditlake/internal/configitems"
	"github.com/auditlake/auditlake/internal/query"
)

// configLookups are what a Config event data store adds to the report: launch template items
// (names to ids, and the default/latest version at a moment) and which Auto Scaling group each
// instance belonged to.
type configLookups struct {
	templates *configitems.Templates
	groups    map[string][]configitems.Membership // instance id → memberships, first seen first
}

// loadConfig reads the Config store name (a name or an id) through the session.
func loadConfig(ctx context.Context, s *query.Session, name string) (*configLookups, error) {
	id := ""
	for _, st := range s.Stores {
		if st.Name == name || st.ID == name {
			if st.Type != "config" {
				return nil, fmt.Errorf("event data store %q is of type %q, not config", name, st.Type)
			}
			id = st.ID
		}
	}
	if id == "" {
		return nil, fmt.Errorf("no such Config event data store: %q", name)
	}
	t, err := LoadTemplates(ctx, s, id)
	if err != nil {
		return nil, fmt.Errorf("read launch templates of Config store %q: %w", name, err)
	}
	ms, err := InstanceGroups(ctx, s, id)
	if err != nil {
		return nil, fmt.Errorf("read Auto Scaling groups of Config store %q: %w", name, err)
	}
	c := &configLookups{templates: t, groups: map[string][]configitems.Membership{}}
	for _, m := range ms {
		c.groups[m.InstanceID] = append(c.groups[m.InstanceID], m)
	}
	return c, nil
}

// addNames adds the template names and ids the Config items know to the trail's history, where
// the trail (CreateLaunchTemplate events) does not know them already.
func (c *configLookups) addNames(h *history) {
	if c == nil {
		return
	}
	for name, id := range c.templates.NameToID() {
		if _, ok := h.byName[name]; !ok {
			h.byName[name] = id
		}
		if _, ok := h.byID[id]; !ok {
			h.byID[id] = name
		}
	}
}

// version turns a symbolic version ($Default, $Latest or none) of template id into the number
// the template's Config item showed at launch time at; other versions are returned unchanged.
func (c *configLookups) version(id, version string, at time.Time) string {
	if c == nil || id == "" {
		return version
	}
	if _, err := strconv.Atoi(version); err == nil {
		return version
	}
	st, ok := c.templates.At(configitems.TemplateRef{ID: id}, at)
	if !ok {
		return version
	}
	switch version {
	case "$Latest":
		if st.LatestVersion != "" {
			return st.LatestVersion
		}
	case "$Default", "":
		if st.DefaultVersion != "" {
			return st.DefaultVersion
		}
	}
	return version
}

// group names the Auto Scaling group instance id belonged to after its launch at: the first group
// whose items listed it at or after the launch, or else the last group that listed it.
func (c *configLookups) group(id string, at time.Time) string {
	if c == nil {
		return ""
	}
	ms := c.groups[id]
	for _, m := range ms {
		if !m.LastSeen.Before(at) {
			return m.GroupName
		}
	}
	if len(ms) > 0 {
		return ms[len(ms)-1].GroupName
	}
	return ""
}
