package access

import (
	"fmt"
	"slices"
	"strings"
)

// Principal is who asks: a user with the grants of its own and of its roles, or the operator.
type Principal struct {
	// User is the user's name; "" for the operator (the CLI acting on the data directory) and
	// for a role taken as a principal (query --as role:NAME).
	User string
	// Role is set when a role itself is the principal.
	Role  string
	KeyID string
	// Admin principals (the operator, users created with --admin) read and manage everything.
	Admin  bool
	Roles  []string
	grants []Grant
	// id is the user's or role's registry id (identity.go).
	id string
	// disables counts the times the user and its key KeyID were disabled (User.Disables).
	disables int
}

// Disables counts the times the principal's user and access key were disabled: a door that
// keeps a login across requests (a dashboard session, a login link) ends it when the count
// differs from the one at login, even if the user or key was enabled again since.
func (p *Principal) Disables() int { return p.disables }

// Operator is the principal of the CLI acting directly on the data directory, like an
// account's root: an operator with shell access reads the files anyway.
func Operator() *Principal { return &Principal{Admin: true} }

// Name is how the audit log and messages name the principal: user:NAME, role:NAME or operator.
func (p *Principal) Name() string {
	switch {
	case p.User != "":
		return "user:" + p.User
	case p.Role != "":
		return "role:" + p.Role
	default:
		return "operator"
	}
}

// CanManage says whether the principal may create and change stores, users and grants.
func (p *Principal) CanManage() bool {
	if p.Admin {
		return true
	}
	return slices.ContainsFunc(p.grants, func(g Grant) bool { return g.Privilege == Manage })
}

// Rule is what one select grant shows of a table: columns (all when Columns is nil, less
// Exclude) of the rows where Filter (Trino SQL; empty: every row) is true.
type Rule struct {
	Columns []string
	Exclude []string
	Filter  string
}

// Shows says whether the rule shows column col (lower case).
func (r Rule) Shows(col string) bool {
	if r.Columns != nil && !slices.Contains(r.Columns, col) {
		return false
	}
	return !slices.Contains(r.Exclude, col)
}

// TableAccess is what a principal may read of one table: nil means everything (no restriction);
// a table with no rule is not visible at all.
type TableAccess struct {
	Rules []Rule
}

// Table returns the principal's access to the table resource ("store:<id>" or
// "table:<db>.<table>"): nil for an unrestricted principal or an unrestricted grant, otherwise the
// rules of every select grant that applies (empty: the table is not visible).
func (p *Principal) Table(resource string) *TableAccess {
	if p.Admin {
		return nil
	}
	ta := &TableAccess{Rules: []Rule{}}
	for _, g := range p.grants {
		if g.Privilege != Select || !(g.Resource == "all" || strings.EqualFold(g.Resource, resource)) {
			continue
		}
		if len(g.Columns) == 0 && len(g.ExcludeColumns) == 0 && g.RowFilter == "" {
			return nil // one unrestricted grant: the union is everything
		}
		r := Rule{Exclude: g.ExcludeColumns, Filter: g.RowFilter}
		if len(g.Columns) > 0 {
			r.Columns = g.Columns
		}
		ta.Rules = append(ta.Rules, r)
	}
	return ta
}

// principal builds the principal of user name (its grants and its roles' grants).
func (s *State) principal(name, keyID string) *Principal {
	u := s.user(name)
	p := &Principal{User: name, KeyID: keyID, Admin: u != nil && u.Admin, id: u.identity()}
	if u != nil {
		p.disables = u.Disables
		if ku, k := s.key(keyID); k != nil && ku == u {
			p.disables += k.Disables
		}
	}
	for _, r := range s.Roles {
		if slices.Contains(r.Members, name) {
			p.Roles = append(p.Roles, r.Name)
		}
	}
	for _, g := range s.Grants {
		if g.Principal == "user:"+name || slices.ContainsFunc(p.Roles, func(r string) bool { return g.Principal == "role:"+r }) {
			p.grants = append(p.grants, g)
		}
	}
	return p
}

// Principal returns the principal named "user:NAME", "NAME" or "role:NAME" as it stands in the
// registry, for an operator who runs a query as someone else (query --as). A disabled user
// still resolves: the operator sees what its grants would show.
func (r *Registry) Principal(ref string) (*Principal, error) {
	kind, name, err := ParsePrincipal(ref)
	if err != nil {
		return nil, err
	}
	s, err := r.State()
	if err != nil {
		return nil, err
	}
	if kind == "user" {
		if s.user(name) == nil {
			return nil, fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		return s.principal(name, ""), nil
	}
	if s.role(name) == nil {
		return nil, fmt.Errorf("role %q: %w", name, ErrNotFound)
	}
	p := &Principal{Role: name, Roles: []string{name}, id: s.role(name).ID}
	for _, g := range s.Grants {
		if g.Principal == "role:"+name {
			p.grants = append(p.grants, g)
		}
	}
	return p, nil
}
