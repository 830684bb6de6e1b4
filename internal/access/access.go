// Package access is auditlake's one authorisation layer: principals (users with access keys,
// roles that group users, the built-in operator), grants in the style of Lake Formation (select on
// a store, a cost table or everything; optionally limited to columns and to rows matching a
// filter; manage for administration), and the resolution of what one principal may read, which
// every door (CLI --as, JSON API, dashboard, and the doors later issues add) hands to the query
// layer.
//
// State lives in <data>/access/: access.json (users, their keys' public parts, roles, grants),
// replaced atomically under an exclusive lock, and master.key (32 random bytes, mode 0600). An
// access key's secret is never stored: it is derived as HMAC-SHA256(master key, key id ‖ nonce),
// so the server can recompute it to check a secret or a SigV4 proof; a key's SCRAM verifier, made
// with the key, is kept for the Postgres door (scram.go). access.json alone (a backup, a copy)
// reveals no secret. Whoever reads both files can derive every secret: an
// operator with shell access to the data directory reads everything anyway (docs/security.md).
package access

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
)

// Errors a caller maps to exit codes and HTTP statuses.
var (
	// ErrUnauthenticated is the one answer to a wrong key id, a wrong secret, a disabled user or
	// key, or an expired key: it never says which.
	ErrUnauthenticated = errors.New("invalid credentials")
	ErrNotFound        = errors.New("not found")
	ErrExists          = errors.New("already exists")
)

// Privileges a grant gives.
const (
	Select = "select" // read a store or table (columns and rows as the grant says)
	Manage = "manage" // create and change stores, sources, users, roles and grants
	// Put (request.go) sends events into a channel.
)

// User is a person or a program with access keys.
type User struct {
	Name string `json:"name"`
	// ID tells this user from an earlier one of the same name that was deleted (random, made
	// at creation; users created before it existed have none: Principal.Identity uses Created).
	ID       string `json:"id,omitempty"`
	Admin    bool   `json:"admin,omitempty"` // reads everything, manages everything
	Disabled bool   `json:"disabled,omitempty"`
	// Disables counts the times the user was disabled: a dashboard session or login link made
	// before one ends with it, even when the user is enabled again before its next use.
	Disables int       `json:"disables,omitempty"`
	Created  time.Time `json:"created"`
	Keys     []Key     `json:"keys,omitempty"`
}

// Key is the public part of an access key: its secret is derived, never stored (its SCRAM
// verifier is, which reveals no secret).
type Key struct {
	ID       string     `json:"id"`
	Nonce    string     `json:"nonce"` // hex; the secret is HMAC(master, id ‖ nonce)
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires,omitempty"`
	Disabled bool       `json:"disabled,omitempty"`
	Disables int        `json:"disables,omitempty"` // as User.Disables
	// SCRAM is the key's verifier for the Postgres door (scram.go); none in a key made by an
	// earlier version, whose verifier is derived at its first use.
	SCRAM *SCRAMVerifier `json:"scram,omitempty"`
}

// Role groups users; grants to a role apply to each member.
type Role struct {
	Name    string   `json:"name"`
	ID      string   `json:"id,omitempty"` // as User.ID
	Members []string `json:"members,omitempty"`
}

// Grant gives a principal (user:NAME or role:NAME) a privilege on a resource: store:ID,
// table:DB.TABLE or all. A select grant may list the only columns it shows (Columns) or the
// columns it hides (ExcludeColumns), and a row filter: a predicate in the Trino dialect over the
// table's columns; rows where it is not true are not seen.
type Grant struct {
	ID             string    `json:"id"`
	Privilege      string    `json:"privilege"`
	Principal      string    `json:"principal"`
	Resource       string    `json:"resource"`
	Columns        []string  `json:"columns,omitempty"`
	ExcludeColumns []string  `json:"exclude_columns,omitempty"`
	RowFilter      string    `json:"row_filter,omitempty"`
	Created        time.Time `json:"created"`
}

// State is the content of access.json.
type State struct {
	Users  []User  `json:"users"`
	Roles  []Role  `json:"roles"`
	Grants []Grant `json:"grants"`
}

// Registry is the access state of one data directory.
type Registry struct {
	dir   string // <data>/access
	now   func() time.Time
	scram *scramCache // verifiers derived for keys made before they were stored (scram.go)
}

// Open returns the registry of the data directory dataDir (created on first change).
func Open(dataDir string) *Registry {
	return &Registry{dir: filepath.Join(dataDir, "access"), now: func() time.Time { return time.Now().UTC() }, scram: &scramCache{}}
}

func (r *Registry) statePath() string { return filepath.Join(r.dir, "access.json") }

// State reads the current state (empty when nothing was ever granted).
func (r *Registry) State() (State, error) {
	var s State
	err := atomicfile.ReadJSON(r.statePath(), &s)
	return s, err
}

// Update applies fn to the state under an exclusive lock and replaces access.json atomically:
// two processes changing grants at once lose neither change. Nothing is written when fn fails.
func (r *Registry) Update(fn func(*State) error) error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("create %q: %w", r.dir, err)
	}
	return atomicfile.UpdateJSON(r.statePath(), filepath.Join(r.dir, "access.lock"), fn)
}

// MasterKey returns the data directory's master key, creating it on first use. Besides the
// access keys' secrets it keys the audit log's digests.
func (r *Registry) MasterKey() ([]byte, error) { return r.masterKey() }

func (r *Registry) masterKey() ([]byte, error) {
	path := filepath.Join(r.dir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("master key %q: %d bytes, want 32", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %q: %w", r.dir, err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	// O_EXCL: of two processes creating it at once, one wins and the other reads its key.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		for range 50 {
			if b, err := os.ReadFile(path); err == nil && len(b) == 32 {
				return b, nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil, fmt.Errorf("master key %q is being written by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	return key, f.Close()
}

// secret derives the secret of key k: 40 characters, as an AWS secret access key.
func secret(master []byte, k Key) string {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("auditlake access key\x00" + k.ID + "\x00" + k.Nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:40]
}

var keyIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newKey makes a key: an id ALAK + 16 base32 characters (as AWS's AKIA…) and a random nonce.
func (r *Registry) newKey(expires *time.Time) Key {
	id := make([]byte, 10)
	rand.Read(id)
	nonce := make([]byte, 16)
	rand.Read(nonce)
	return Key{ID: "ALAK" + keyIDEncoding.EncodeToString(id)[:16], Nonce: hex.EncodeToString(nonce), Created: r.now(), Expires: expires}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+=-]{0,63}$`)

// checkName validates a user or role name.
func checkName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("invalid %s name %q: 1-64 letters, digits and . _ @ + = -, starting with a letter or digit", kind, name)
	}
	return nil
}

// Credentials are a new access key as shown once to its user.
type Credentials struct {
	User            string `json:"user"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// CreateUser adds a user with one access key and returns the key's credentials.
func (r *Registry) CreateUser(name string, admin bool, expires *time.Time) (Credentials, error) {
	if err := checkName("user", name); err != nil {
		return Credentials{}, err
	}
	master, err := r.masterKey()
	if err != nil {
		return Credentials{}, err
	}
	k := r.newKey(expires)
	k.SCRAM = newSCRAMVerifier(master, k)
	err = r.Update(func(s *State) error {
		if s.user(name) != nil {
			return fmt.Errorf("user %q: %w", name, ErrExists)
		}
		for _, u := range s.Users {
			if strings.EqualFold(u.Name, name) { // as IAM: names are unique whatever their case
				return fmt.Errorf("user %q: %w as %q (user names are unique regardless of case)", name, ErrExists, u.Name)
			}
		}
		s.Users = append(s.Users, User{Name: name, ID: newID(), Admin: admin, Created: r.now(), Keys: []Key{k}})
		return nil
	})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{User: name, AccessKeyID: k.ID, SecretAccessKey: secret(master, k)}, nil
}

// CreateKey adds an access key to a user (rotation: create, switch, then disable the old one).
func (r *Registry) CreateKey(name string, expires *time.Time) (Credentials, error) {
	return r.addKey(name, expires, false)
}

// RotateKey gives the user a new key and disables every older one.
func (r *Registry) RotateKey(name string, expires *time.Time) (Credentials, error) {
	return r.addKey(name, expires, true)
}

// addKey adds a new key to user name, disabling the older ones when retire is set.
func (r *Registry) addKey(name string, expires *time.Time, retire bool) (Credentials, error) {
	master, err := r.masterKey()
	if err != nil {
		return Credentials{}, err
	}
	k := r.newKey(expires)
	k.SCRAM = newSCRAMVerifier(master, k)
	err = r.Update(func(s *State) error {
		u := s.user(name)
		if u == nil {
			return fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		for i := range u.Keys {
			if retire && !u.Keys[i].Disabled {
				u.Keys[i].Disabled = true
				u.Keys[i].Disables++
			}
		}
		u.Keys = append(u.Keys, k)
		return nil
	})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{User: name, AccessKeyID: k.ID, SecretAccessKey: secret(master, k)}, nil
}

// SetDisabled disables or enables a user (all its keys) or, when keyID is not empty, one key.
func (r *Registry) SetDisabled(name, keyID string, disabled bool) error {
	return r.Update(func(s *State) error {
		u := s.user(name)
		if u == nil {
			return fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		if keyID == "" {
			u.Disabled = disabled
			if disabled {
				u.Disables++
			}
			return nil
		}
		for i := range u.Keys {
			if u.Keys[i].ID == keyID {
				u.Keys[i].Disabled = disabled
				if disabled {
					u.Keys[i].Disables++
				}
				return nil
			}
		}
		return fmt.Errorf("access key %q of user %q: %w", keyID, name, ErrNotFound)
	})
}

// DeleteUser removes a user, its keys, its role memberships and its grants.
func (r *Registry) DeleteUser(name string) error {
	return r.Update(func(s *State) error {
		i := slices.IndexFunc(s.Users, func(u User) bool { return u.Name == name })
		if i < 0 {
			return fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		s.Users = slices.Delete(s.Users, i, i+1)
		for j := range s.Roles {
			s.Roles[j].Members = slices.DeleteFunc(s.Roles[j].Members, func(m string) bool { return m == name })
		}
		s.Grants = slices.DeleteFunc(s.Grants, func(g Grant) bool { return g.Principal == "user:"+name })
		return nil
	})
}

// CreateRole adds an empty role.
func (r *Registry) CreateRole(name string) error {
	if err := checkName("role", name); err != nil {
		return err
	}
	return r.Update(func(s *State) error {
		if s.role(name) != nil {
			return fmt.Errorf("role %q: %w", name, ErrExists)
		}
		for _, ro := range s.Roles {
			if strings.EqualFold(ro.Name, name) {
				return fmt.Errorf("role %q: %w as %q (role names are unique regardless of case)", name, ErrExists, ro.Name)
			}
		}
		s.Roles = append(s.Roles, Role{Name: name, ID: newID()})
		return nil
	})
}

// DeleteRole removes a role and its grants.
func (r *Registry) DeleteRole(name string) error {
	return r.Update(func(s *State) error {
		i := slices.IndexFunc(s.Roles, func(x Role) bool { return x.Name == name })
		if i < 0 {
			return fmt.Errorf("role %q: %w", name, ErrNotFound)
		}
		s.Roles = slices.Delete(s.Roles, i, i+1)
		s.Grants = slices.DeleteFunc(s.Grants, func(g Grant) bool { return g.Principal == "role:"+name })
		return nil
	})
}

// SetMember adds (in) or removes a user from a role.
func (r *Registry) SetMember(role, user string, in bool) error {
	return r.Update(func(s *State) error {
		ro := s.role(role)
		if ro == nil {
			return fmt.Errorf("role %q: %w", role, ErrNotFound)
		}
		if s.user(user) == nil {
			return fmt.Errorf("user %q: %w", user, ErrNotFound)
		}
		has := slices.Contains(ro.Members, user)
		switch {
		case in && !has:
			ro.Members = append(ro.Members, user)
		case !in && has:
			ro.Members = slices.DeleteFunc(ro.Members, func(m string) bool { return m == user })
		case !in:
			return fmt.Errorf("user %q is not a member of role %q", user, role)
		}
		return nil
	})
}

// ParsePrincipal reads "user:NAME", "role:NAME" or a bare user name.
func ParsePrincipal(p string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(p, ":")
	if !ok {
		kind, name = "user", p
	}
	if kind != "user" && kind != "role" {
		return "", "", fmt.Errorf("invalid principal %q: want user:NAME or role:NAME", p)
	}
	if err := checkName(kind, name); err != nil {
		return "", "", err
	}
	return kind, name, nil
}

// AddGrant validates g against the state (the principal exists; check, when not nil, validates
// the resource, columns and row filter against the table itself, and may normalise the
// resource, e.g. a store's name to its id) and saves it. Nothing is saved
// when anything is wrong. It returns the grant with its id.
func (r *Registry) AddGrant(g Grant, check func(*Grant) error) (Grant, error) {
	if g.Privilege != Select && g.Privilege != Manage && g.Privilege != Put {
		return g, fmt.Errorf("invalid privilege %q: want select, manage or put", g.Privilege)
	}
	kind, name, err := ParsePrincipal(g.Principal)
	if err != nil {
		return g, err
	}
	g.Principal = kind + ":" + name
	if g.Privilege == Manage {
		if g.Resource != "all" && g.Resource != "" {
			return g, fmt.Errorf("manage is granted on all, not on %q", g.Resource)
		}
		g.Resource = "all"
		if len(g.Columns)+len(g.ExcludeColumns) > 0 || g.RowFilter != "" {
			return g, errors.New("manage takes no columns or row filter")
		}
	}
	if len(g.Columns) > 0 && len(g.ExcludeColumns) > 0 {
		return g, errors.New("give either the columns to show or the columns to hide, not both")
	}
	for i, c := range g.Columns {
		g.Columns[i] = strings.ToLower(strings.TrimSpace(c))
	}
	for i, c := range g.ExcludeColumns {
		g.ExcludeColumns[i] = strings.ToLower(strings.TrimSpace(c))
	}
	g.RowFilter = strings.TrimSpace(g.RowFilter)
	if g.Privilege == Put && check == nil {
		return g, errors.New("a put grant needs its channel checked") // the CLI passes CheckPutGrant
	}
	if check != nil && g.Privilege != Manage {
		if err := check(&g); err != nil {
			return g, err
		}
	}
	id := make([]byte, 6)
	rand.Read(id)
	g.ID = "g-" + hex.EncodeToString(id)
	g.Created = r.now()
	err = r.Update(func(s *State) error {
		var ok bool
		if kind == "user" {
			ok = s.user(name) != nil
		} else {
			ok = s.role(name) != nil
		}
		if !ok {
			return fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
		}
		s.Grants = append(s.Grants, g)
		return nil
	})
	return g, err
}

// Revoke removes grants: the one with id, or every grant of principal on resource (privilege
// select unless given). It returns how many were removed; none is an error.
func (r *Registry) Revoke(id, principal, resource, privilege string) (int, error) {
	if id == "" {
		kind, name, err := ParsePrincipal(principal)
		if err != nil {
			return 0, err
		}
		principal = kind + ":" + name
		if privilege == "" {
			privilege = Select
		}
	}
	n := 0
	err := r.Update(func(s *State) error {
		s.Grants = slices.DeleteFunc(s.Grants, func(g Grant) bool {
			match := g.ID == id
			if id == "" {
				match = g.Principal == principal && g.Resource == resource && g.Privilege == privilege
			}
			if match {
				n++
			}
			return match
		})
		if n == 0 {
			return fmt.Errorf("grant: %w", ErrNotFound)
		}
		return nil
	})
	return n, err
}

func (s *State) user(name string) *User {
	for i := range s.Users {
		if s.Users[i].Name == name {
			return &s.Users[i]
		}
	}
	return nil
}

func (s *State) role(name string) *Role {
	for i := range s.Roles {
		if s.Roles[i].Name == name {
			return &s.Roles[i]
		}
	}
	return nil
}

// Authenticate checks an access key id and secret and returns the key's principal. Every
// failure is ErrUnauthenticated; the comparison takes the same time whatever is wrong.
func (r *Registry) Authenticate(keyID, secretText string) (*Principal, error) {
	master, err := r.masterKey()
	if err != nil {
		return nil, err
	}
	s, err := r.State()
	if err != nil {
		return nil, err
	}
	u, k := s.key(keyID)
	want := secret(master, Key{ID: keyID, Nonce: "absent"})
	if k != nil {
		want = secret(master, *k)
	}
	ok := subtle.ConstantTimeCompare([]byte(want), []byte(secretText)) == 1
	if !ok || k == nil || !usable(u, k, r.now()) {
		return nil, ErrUnauthenticated
	}
	return s.principal(u.Name, keyID), nil
}

// Secret returns the secret of an active key, for doors whose protocol proves knowledge of it
// without sending it (SigV4, SCRAM). A missing or unusable key is ErrUnauthenticated.
func (r *Registry) Secret(keyID string) (string, *Principal, error) {
	master, err := r.masterKey()
	if err != nil {
		return "", nil, err
	}
	s, err := r.State()
	if err != nil {
		return "", nil, err
	}
	u, k := s.key(keyID)
	if k == nil || !usable(u, k, r.now()) {
		return "", nil, ErrUnauthenticated
	}
	return secret(master, *k), s.principal(u.Name, keyID), nil
}

func usable(u *User, k *Key, now time.Time) bool {
	return !u.Disabled && !k.Disabled && (k.Expires == nil || now.Before(*k.Expires))
}

func (s *State) key(id string) (*User, *Key) {
	for i := range s.Users {
		for j := range s.Users[i].Keys {
			if s.Users[i].Keys[j].ID == id {
				return &s.Users[i], &s.Users[i].Keys[j]
			}
		}
	}
	return nil, nil
}
