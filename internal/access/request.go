package access

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Put is the privilege to send events into a channel (resource channel:<channel id>): what a
// PutAuditEvents caller's access key needs.
const Put = "put"

// CanPut says whether the principal may put events into the channel resource
// ("channel:<channel id>"). Admin principals may put into every channel.
func (p *Principal) CanPut(resource string) bool {
	if p.Admin {
		return true
	}
	return slices.ContainsFunc(p.grants, func(g Grant) bool {
		return g.Privilege == Put && strings.EqualFold(g.Resource, resource)
	})
}

// Sees says whether the table resource ("store:<id>" or "table:<db>.<table>") is visible to the
// principal at all (in whole or in part).
func (p *Principal) Sees(resource string) bool {
	ta := p.Table(resource)
	return ta == nil || len(ta.Rules) > 0
}

// Fingerprint identifies what the principal may do: its admin flag and the content of every
// grant that applies to it (not their ids or dates). Two principals with the same fingerprint
// get the same restricted view; a grant or revoke that changes what it sees changes it.
func (p *Principal) Fingerprint() string {
	var lines []string
	for _, g := range p.grants {
		lines = append(lines, fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s", g.Privilege, strings.ToLower(g.Resource),
			strings.Join(g.Columns, ","), strings.Join(g.ExcludeColumns, ","), g.RowFilter))
	}
	slices.Sort(lines)
	h := sha256.New()
	fmt.Fprintf(h, "admin=%t\n%s", p.Admin, strings.Join(lines, "\n"))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Current returns the principal p as the registry stands now — its grants and roles as of this
// call — for a backend that must apply a grant, a revoke, a disabled user or key at the next
// request whatever a door cached. The operator (neither user nor role) is returned as it is. A
// user that was deleted or disabled, or a key that was disabled, deleted or expired since p was
// authenticated, is ErrUnauthenticated.
func (r *Registry) Current(p *Principal) (*Principal, error) {
	if p.User == "" && p.Role == "" {
		return p, nil
	}
	s, err := r.State()
	if err != nil {
		return nil, err
	}
	if p.Role != "" && p.User == "" {
		if s.role(p.Role) == nil {
			return nil, ErrUnauthenticated
		}
		np := &Principal{Role: p.Role, Roles: []string{p.Role}, id: s.role(p.Role).ID}
		for _, g := range s.Grants {
			if g.Principal == "role:"+p.Role {
				np.grants = append(np.grants, g)
			}
		}
		return np, nil
	}
	u := s.user(p.User)
	if u == nil || u.Disabled {
		return nil, ErrUnauthenticated
	}
	if p.KeyID != "" {
		ku, k := s.key(p.KeyID)
		if k == nil || ku.Name != u.Name || !usable(ku, k, r.now()) {
			return nil, ErrUnauthenticated
		}
	}
	np := s.principal(u.Name, p.KeyID)
	if np.disables != p.disables {
		// Disabled since p was made, and enabled again: a login a door keeps (a Postgres
		// connection, a dashboard session) ends, as it would have had it been used between.
		return nil, ErrUnauthenticated
	}
	return np, nil
}

// CheckPutGrant validates a put grant's resource: "channel:<ref>" where resolve (the channel
// registry's lookup) turns ref — a channel id, ARN or name — into the channel's id, which the
// grant then names. A channel that does not exist is refused.
func CheckPutGrant(g *Grant, resolve func(ref string) (id string, err error)) error {
	kind, ref, ok := strings.Cut(g.Resource, ":")
	if !ok || kind != "channel" || ref == "" {
		return fmt.Errorf("invalid resource %q for put: want channel:ID|ARN|NAME", g.Resource)
	}
	if len(g.Columns)+len(g.ExcludeColumns) > 0 || g.RowFilter != "" {
		return fmt.Errorf("put takes no columns or row filter")
	}
	id, err := resolve(ref)
	if err != nil {
		return fmt.Errorf("grant on %s: %w", g.Resource, err)
	}
	g.Resource = "channel:" + id
	return nil
}

// RevokeOn removes every grant on resource (the put grants of a deleted channel) and returns
// how many there were; none is not an error.
func (r *Registry) RevokeOn(resource string) (int, error) {
	n := 0
	err := r.Update(func(s *State) error {
		s.Grants = slices.DeleteFunc(s.Grants, func(g Grant) bool {
			if strings.EqualFold(g.Resource, resource) {
				n++
				return true
			}
			return false
		})
		return nil
	})
	return n, err
}
