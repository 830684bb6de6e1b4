package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/query"
)

const userCreateUsage = `Usage: auditlake user create [--admin] [--expires DATE] [--output text|json] NAME

Creates a user with one access key and prints the key id and its secret once: the secret is not
stored (it is derived from the data directory's master key) and cannot be shown again. A user
with no grant sees nothing; --admin reads and manages everything.`

const grantSelectUsage = `Usage: auditlake grant select --on store:NAME|ID|table:DB.TABLE|all --to user:NAME|role:NAME
                              [--columns C,C… | --exclude-columns C,C…] [--row-filter SQL]

Lets a principal read a store or a cost table, as Lake Formation does: every column and row, or
only the columns listed (or all but the excluded ones) of the rows where the row filter (a
predicate in the Trino/Athena dialect over the table's columns) is true. Several grants on one
table combine as their union: a row is visible when any grant admits it, a column of it when a
grant that admits the row shows the column. A table a principal may not read is "not found" to
it. eventjson holds the whole record: a grant that shows it shows every field.`

// accessRegistry opens the data directory's access registry.
func accessRegistry(env *Env) *access.Registry { return access.Open(env.DataDir) }

func parseExpires(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTimeFlag("expires", s)
	if err != nil {
		return nil, err
	}
	if !t.After(time.Now()) {
		// A key that never works is a mistyped year, not a choice.
		return nil, usagef("--expires %q is not in the future: the key would never work", s)
	}
	return &t, nil
}

func runUserCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "user create")
	admin := fs.Bool("admin", false, "the user reads and manages everything")
	expires := fs.String("expires", "", "the access key stops working at this date or time (default: never)")
	output := formatFlag(fs, "text", "json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("user create takes one NAME")
	}
	exp, err := parseExpires(*expires)
	if err != nil {
		return err
	}
	creds, err := accessRegistry(env).CreateUser(pos[0], *admin, exp)
	if err != nil {
		return err
	}
	return printCredentials(env, *output, creds)
}

func printCredentials(env *Env, output string, c access.Credentials) error {
	if output == "json" {
		return writeJSON(env.Stdout, c)
	}
	fmt.Fprintf(env.Stdout, "user:              %s\naccess key id:     %s\nsecret access key: %s\n", c.User, c.AccessKeyID, c.SecretAccessKey)
	fmt.Fprintln(env.Stderr, "The secret is shown only now: store it safely.")
	return nil
}

func runUserList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "user list")
	output := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := accessRegistry(env).State()
	if err != nil {
		return err
	}
	type keyView struct {
		ID       string     `json:"access_key_id"`
		Created  time.Time  `json:"created"`
		Expires  *time.Time `json:"expires,omitempty"`
		Disabled bool       `json:"disabled"`
	}
	type userView struct {
		Name     string    `json:"user"`
		Admin    bool      `json:"admin"`
		Disabled bool      `json:"disabled"`
		Roles    []string  `json:"roles"`
		Keys     []keyView `json:"access_keys"`
	}
	views := []userView{}
	for _, u := range st.Users {
		v := userView{Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, Roles: []string{}, Keys: []keyView{}}
		for _, r := range st.Roles {
			for _, m := range r.Members {
				if m == u.Name {
					v.Roles = append(v.Roles, r.Name)
				}
			}
		}
		for _, k := range u.Keys {
			v.Keys = append(v.Keys, keyView{ID: k.ID, Created: k.Created, Expires: k.Expires, Disabled: k.Disabled})
		}
		views = append(views, v)
	}
	if *output == "json" {
		return writeJSON(env.Stdout, views)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tADMIN\tSTATE\tROLES\tACCESS KEYS")
	for _, v := range views {
		state := "active"
		if v.Disabled {
			state = "disabled"
		}
		var keys []string
		for _, k := range v.Keys {
			s := k.ID
			switch {
			case k.Disabled:
				s += " (disabled)"
			case k.Expires != nil:
				s += " (expires " + k.Expires.Format(time.RFC3339) + ")"
			}
			keys = append(keys, s)
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\n", v.Name, v.Admin, state, strings.Join(v.Roles, ","), strings.Join(keys, ", "))
	}
	return tw.Flush()
}

func runUserSetDisabled(disabled bool) func(context.Context, *Env, []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		name := "user enable"
		if disabled {
			name = "user disable"
		}
		fs := newFlags(env, name)
		key := fs.String("key", "", "only this access key of the user")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("%s takes one user NAME", name)
		}
		if err := accessRegistry(env).SetDisabled(pos[0], *key, disabled); err != nil {
			return accessErr(err)
		}
		what := "user " + pos[0]
		if *key != "" {
			what = "access key " + *key + " of user " + pos[0]
		}
		fmt.Fprintf(env.Stdout, "%s %sd\n", what, strings.TrimPrefix(name, "user "))
		return nil
	}
}

func runUserKey(rotate bool) func(context.Context, *Env, []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		name := "user create-key"
		if rotate {
			name = "user rotate-key"
		}
		fs := newFlags(env, name)
		expires := fs.String("expires", "", "the new key stops working at this date or time (default: never)")
		output := formatFlag(fs, "text", "json")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("%s takes one user NAME", name)
		}
		exp, err := parseExpires(*expires)
		if err != nil {
			return err
		}
		reg := accessRegistry(env)
		var creds access.Credentials
		if rotate {
			creds, err = reg.RotateKey(pos[0], exp)
		} else {
			creds, err = reg.CreateKey(pos[0], exp)
		}
		if err != nil {
			return accessErr(err)
		}
		return printCredentials(env, *output, creds)
	}
}

func runUserDelete(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "user delete")
	yes := fs.Bool("yes", false, "confirm: the user, its keys and its grants are removed")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("user delete takes one user NAME")
	}
	if !*yes {
		return usagef("user delete removes %s, its access keys and its grants: add --yes to confirm", pos[0])
	}
	if err := accessRegistry(env).DeleteUser(pos[0]); err != nil {
		return accessErr(err)
	}
	fmt.Fprintf(env.Stdout, "user %s deleted\n", pos[0])
	return nil
}

// runRoleChange is role create and role delete: one role NAME, one registry change.
func runRoleChange(cmd, done string, change func(*access.Registry, string) error) func(context.Context, *Env, []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		pos, err := parseFlags(newFlags(env, cmd), args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("%s takes one role NAME", cmd)
		}
		if err := change(accessRegistry(env), pos[0]); err != nil {
			return accessErr(err)
		}
		fmt.Fprintf(env.Stdout, "role %s %s\n", pos[0], done)
		return nil
	}
}

func runRoleMember(in bool) func(context.Context, *Env, []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		name := "role remove-member"
		if in {
			name = "role add-member"
		}
		fs := newFlags(env, name)
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 2 {
			return usagef("%s takes a ROLE and a USER", name)
		}
		user := strings.TrimPrefix(pos[1], "user:")
		if err := accessRegistry(env).SetMember(pos[0], user, in); err != nil {
			return accessErr(err)
		}
		if in {
			fmt.Fprintf(env.Stdout, "user %s is a member of role %s\n", user, pos[0])
		} else {
			fmt.Fprintf(env.Stdout, "user %s is no longer a member of role %s\n", user, pos[0])
		}
		return nil
	}
}

func runRoleList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "role list")
	output := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := accessRegistry(env).State()
	if err != nil {
		return err
	}
	if *output == "json" {
		roles := st.Roles
		if roles == nil {
			roles = []access.Role{}
		}
		return writeJSON(env.Stdout, roles)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tMEMBERS")
	for _, r := range st.Roles {
		fmt.Fprintf(tw, "%s\t%s\n", r.Name, strings.Join(r.Members, ","))
	}
	return tw.Flush()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runGrant(privilege string) func(context.Context, *Env, []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		fs := newFlags(env, "grant "+privilege)
		on := fs.String("on", "", "store:NAME|ID, table:DB.TABLE or all")
		to := fs.String("to", "", "user:NAME or role:NAME")
		cols := fs.String("columns", "", "comma-separated columns the grant shows (default: all)")
		excl := fs.String("exclude-columns", "", "comma-separated columns the grant hides")
		filter := fs.String("row-filter", "", "the rows the grant shows: a predicate in the Trino dialect")
		output := formatFlag(fs, "text", "json")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usagef("grant %s takes flags only (unexpected %q)", privilege, pos[0])
		}
		if *to == "" || (privilege != access.Manage && *on == "") {
			return usagef("grant %s needs --on and --to", privilege)
		}
		// A flag given with nothing in it is a mistake (an unset variable in a script), never
		// "every column" or "every row", which is what leaving the flag out means.
		var empty []string
		fs.Visit(func(f *flag.Flag) {
			switch {
			case f.Name == "row-filter" && strings.TrimSpace(f.Value.String()) == "",
				(f.Name == "columns" || f.Name == "exclude-columns") && len(splitList(f.Value.String())) == 0:
				empty = append(empty, "--"+f.Name)
			}
		})
		if len(empty) > 0 {
			return usagef("grant %s: %s is empty: leave the flag out to grant every column and row, or give what the grant shows", privilege, strings.Join(empty, ", "))
		}
		lk, err := openLake(env)
		if err != nil {
			return err
		}
		g := access.Grant{Privilege: privilege, Principal: *to, Resource: *on,
			Columns: splitList(*cols), ExcludeColumns: splitList(*excl), RowFilter: *filter}
		check := func(g *access.Grant) error { return query.CheckGrant(ctx, lk, g) }
		if privilege == access.Put {
			check = func(g *access.Grant) error { return access.CheckPutGrant(g, channelID(lk)) }
		}
		g, err = accessRegistry(env).AddGrant(g, check)
		if err != nil {
			return accessErr(err)
		}
		if *output == "json" {
			return writeJSON(env.Stdout, g)
		}
		fmt.Fprintf(env.Stdout, "granted %s on %s to %s (%s)\n", g.Privilege, g.Resource, g.Principal, g.ID)
		return nil
	}
}

func runRevoke(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "revoke")
	id := fs.String("id", "", "the grant's id (auditlake grants)")
	on := fs.String("on", "", "store:NAME|ID, table:DB.TABLE or all")
	from := fs.String("from", "", "user:NAME or role:NAME")
	fs.StringVar(from, "to", "", "alias of --from")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	privilege := ""
	if len(pos) == 1 {
		privilege = pos[0]
	} else if len(pos) > 1 {
		return usagef("revoke takes at most a privilege (select, manage or put)")
	}
	if *id == "" && (*from == "" || (*on == "" && privilege != access.Manage)) {
		return usagef("revoke needs --id, or --on and --from")
	}
	resource := *on
	if privilege == access.Manage && resource == "" {
		resource = "all"
	}
	if strings.HasPrefix(resource, "store:") || strings.HasPrefix(resource, "channel:") {
		lk, err := openLake(env)
		if err != nil {
			return err
		}
		if st, err := lk.Resolve(strings.TrimPrefix(resource, "store:")); err == nil {
			resource = "store:" + st.ID
		}
		if id, err := channelID(lk)(strings.TrimPrefix(resource, "channel:")); err == nil && strings.HasPrefix(resource, "channel:") {
			resource = "channel:" + id
		}
	}
	n, err := accessRegistry(env).Revoke(*id, *from, resource, privilege)
	if err != nil {
		return accessErr(err)
	}
	fmt.Fprintf(env.Stdout, "revoked %s\n", plural(n, "grant", "grants"))
	return nil
}

func runGrants(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "grants")
	principal := fs.String("principal", "", "only the grants that apply to this user:NAME or role:NAME (a user's include its roles')")
	output := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := accessRegistry(env).State()
	if err != nil {
		return err
	}
	grants := []access.Grant{}
	keep := func(g access.Grant) bool { return true }
	if *principal != "" {
		kind, name, err := access.ParsePrincipal(*principal)
		if err != nil {
			return usagef("%v", err)
		}
		// A misspelt name is not a principal without grants: say it does not exist.
		if _, err := accessRegistry(env).Principal(*principal); err != nil {
			return accessErr(err)
		}
		applies := map[string]bool{kind + ":" + name: true}
		if kind == "user" {
			for _, r := range st.Roles {
				for _, m := range r.Members {
					if m == name {
						applies["role:"+r.Name] = true
					}
				}
			}
		}
		keep = func(g access.Grant) bool { return applies[g.Principal] }
	}
	for _, g := range st.Grants {
		if keep(g) {
			grants = append(grants, g)
		}
	}
	if *output == "json" {
		return writeJSON(env.Stdout, grants)
	}
	names := map[string]string{}
	if lk, err := openLake(env); err == nil {
		if stores, err := lk.Stores(); err == nil {
			for _, s := range stores {
				names["store:"+s.ID] = "store:" + s.Name
			}
		}
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPRINCIPAL\tPRIVILEGE\tON\tCOLUMNS\tROWS")
	for _, g := range grants {
		on := g.Resource
		if n, ok := names[on]; ok {
			on = n
		}
		cols := "all"
		switch {
		case len(g.Columns) > 0:
			cols = strings.Join(g.Columns, ",")
		case len(g.ExcludeColumns) > 0:
			cols = "all but " + strings.Join(g.ExcludeColumns, ",")
		}
		rows := "all"
		if g.RowFilter != "" {
			rows = g.RowFilter
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.Principal, g.Privilege, on, cols, rows)
	}
	return tw.Flush()
}

// accessErr adds a hint to the registry's not-found errors.
func accessErr(err error) error {
	if errors.Is(err, access.ErrNotFound) {
		return &HintError{Err: err, Hint: "list them with: auditlake user list, auditlake role list, auditlake grants"}
	}
	return err
}

// principalFlag resolves query --as: nil for the operator's own unrestricted view.
func principalFlag(env *Env, as string) (*access.Principal, error) {
	if as == "" {
		return nil, nil
	}
	p, err := accessRegistry(env).Principal(as)
	if err != nil {
		return nil, accessErr(err)
	}
	return p, nil
}
