package compliance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/auditlake/auditlake/internal/query"
)

// templateEvent is one step of a launch template's history.
type templateEvent struct {
	at             time.Time
	event, id      string
	name           string
	version        int // latest version after the event (0 = unchanged)
	defaultVersion int // default version after the event (0 = unchanged)
	eventID, actor string
}

// history is every launch template's history, oldest first.
type history struct {
	events []templateEvent
	byName map[string]string // name → id
	byID   map[string]string // id → name
}

func loadTemplates(ctx context.Context, s *query.Session, facts string) (*history, error) {
	q, err := render("templates.sql", map[string]string{"Facts": facts})
	if err != nil {
		return nil, err
	}
	res, err := s.RunInternal(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read launch template history: %w", err)
	}
	h := &history{byName: map[string]string{}, byID: map[string]string{}}
	for _, v := range res.Rows {
		e := templateEvent{at: tm(v[0]), event: str(v[1]), id: str(v[2]), name: str(v[3]), eventID: str(v[6]), actor: str(v[7])}
		e.version, _ = strconv.Atoi(str(v[4]))
		e.defaultVersion, _ = strconv.Atoi(str(v[5]))
		if e.id != "" && e.name != "" {
			h.byName[e.name], h.byID[e.id] = e.id, e.name
		}
		h.events = append(h.events, e)
	}
	return h, nil
}

// resolve returns the template id, name and version of a launch. The instance's own system
// tags (aws:ec2launchtemplate:id/version, written by EC2 with the version actually used) win
// over the request; a name is resolved to its id, and $Latest/$Default (or no version, which
// means $Default) to the number that stood at launch time when the history has it.
func (h *history) resolve(f launchFacts) (id, name, version string) {
	id, name, version = f.ltID, f.ltName, f.ltVersion
	if t := f.tags["aws:ec2launchtemplate:id"]; t != "" {
		id = t
		if v := f.tags["aws:ec2launchtemplate:version"]; v != "" {
			version = v
		}
	}
	if id == "" && name == "" {
		return "", "", ""
	}
	if id == "" {
		id = h.byName[name]
	}
	if name == "" {
		name = h.byID[id]
	}
	if id == "" {
		return id, name, version
	}
	switch version {
	case "$Latest", "$Default", "":
		latest, def := 0, 0
		for _, e := range h.events {
			if e.id != id || e.at.After(f.at) {
				continue
			}
			if e.version > latest {
				latest = e.version
			}
			if e.defaultVersion > 0 {
				def = e.defaultVersion
			}
		}
		n := def
		if version == "$Latest" {
			n = latest
		}
		if n > 0 {
			version = strconv.Itoa(n)
		}
	}
	return id, name, version
}
