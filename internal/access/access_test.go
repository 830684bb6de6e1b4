package access_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/access"
)

// TestAuthenticateAnswersOneErrorForEveryFailure: a wrong secret, an unknown key id, a disabled
// user, a disabled key and an expired key all give ErrUnauthenticated, and the right secret of
// an active key gives the user's principal with its roles.
func TestAuthenticateAnswersOneErrorForEveryFailure(t *testing.T) {
	r := access.Open(t.TempDir())
	c, err := r.CreateUser("bob", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CreateRole("finops"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetMember("finops", "bob", true); err != nil {
		t.Fatal(err)
	}
	p, err := r.Authenticate(c.AccessKeyID, c.SecretAccessKey)
	if err != nil || p.Name() != "user:bob" || len(p.Roles) != 1 || p.Roles[0] != "finops" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	past := time.Now().Add(-time.Hour)
	expired, err := r.CreateKey("bob", &past)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, id, secret string) {
		t.Helper()
		if _, err := r.Authenticate(id, secret); !errors.Is(err, access.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", what, err)
		}
	}
	wrong := []byte(c.SecretAccessKey)
	wrong[39] ^= 1 // another character of the secret's alphabet
	check("wrong secret", c.AccessKeyID, string(wrong))
	check("empty secret", c.AccessKeyID, "")
	check("unknown key", "ALAKAAAAAAAAAAAAAAAA", c.SecretAccessKey)
	check("another key's secret", expired.AccessKeyID, c.SecretAccessKey)
	check("expired key", expired.AccessKeyID, expired.SecretAccessKey)
	if err := r.SetDisabled("bob", c.AccessKeyID, true); err != nil {
		t.Fatal(err)
	}
	check("disabled key", c.AccessKeyID, c.SecretAccessKey)
	if err := r.SetDisabled("bob", c.AccessKeyID, false); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDisabled("bob", "", true); err != nil {
		t.Fatal(err)
	}
	check("disabled user", c.AccessKeyID, c.SecretAccessKey)
	if err := r.SetDisabled("bob", "", false); err != nil {
		t.Fatal(err)
	}
	rot, err := r.RotateKey("bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	check("key retired by rotation", c.AccessKeyID, c.SecretAccessKey)
	if _, err := r.Authenticate(rot.AccessKeyID, rot.SecretAccessKey); err != nil {
		t.Errorf("rotated key: %v", err)
	}
	if secret, _, err := r.Secret(rot.AccessKeyID); err != nil || secret != rot.SecretAccessKey {
		t.Errorf("Secret derives %q, %v; want the key's secret", secret, err)
	}
}

// TestConcurrentGrantChangesLoseNothing: changes from many goroutines at once (the registry
// locks the file, as processes do) all land.
func TestConcurrentGrantChangesLoseNothing(t *testing.T) {
	r := access.Open(t.TempDir())
	if _, err := r.CreateUser("bob", false, nil); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.AddGrant(access.Grant{Privilege: access.Select, Principal: "user:bob", Resource: "all"}, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st, err := r.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Grants) != n {
		t.Errorf("%d grants saved, want %d", len(st.Grants), n)
	}
}

// TestUnionOfGrantsIsUnrestrictedWhenOneGrantIs: a principal with a filtered and an
// unfiltered grant on one table reads it whole; with only filtered ones, it gets every rule.
func TestUnionOfGrantsIsUnrestrictedWhenOneGrantIs(t *testing.T) {
	r := access.Open(t.TempDir())
	if _, err := r.CreateUser("bob", false, nil); err != nil {
		t.Fatal(err)
	}
	add := func(g access.Grant) {
		t.Helper()
		g.Privilege, g.Principal = access.Select, "user:bob"
		if _, err := r.AddGrant(g, nil); err != nil {
			t.Fatal(err)
		}
	}
	add(access.Grant{Resource: "store:a", Columns: []string{"eventname"}, RowFilter: "x = 1"})
	add(access.Grant{Resource: "store:a", ExcludeColumns: []string{"eventjson"}})
	add(access.Grant{Resource: "store:b", RowFilter: "x = 1"})
	p, err := r.Principal("bob")
	if err != nil {
		t.Fatal(err)
	}
	if ta := p.Table("store:a"); ta == nil || len(ta.Rules) != 2 || ta.Rules[1].Shows("eventjson") || !ta.Rules[1].Shows("eventname") {
		t.Errorf("store:a = %+v, want two rules, the second hiding eventjson", ta)
	}
	if ta := p.Table("store:b"); ta == nil || len(ta.Rules) != 1 || ta.Rules[0].Filter != "x = 1" {
		t.Errorf("store:b = %+v", ta)
	}
	if ta := p.Table("store:c"); ta == nil || len(ta.Rules) != 0 {
		t.Errorf("store:c = %+v, want visible to nobody", ta)
	}
	add(access.Grant{Resource: "store:b"})
	p, _ = r.Principal("bob")
	if ta := p.Table("store:b"); ta != nil {
		t.Errorf("store:b with an unrestricted grant = %+v, want nil (everything)", ta)
	}
}

// TestNamesAreUniqueWhateverTheirCase: as in IAM, a user or role whose name differs from an
// existing one only by case is refused (ErrExists, naming the one that exists), so "Bob" cannot
// sit beside "bob" as a second principal that a grant or an audit record could be confused with.
func TestNamesAreUniqueWhateverTheirCase(t *testing.T) {
	r := access.Open(t.TempDir())
	if _, err := r.CreateUser("bob", false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateUser("Bob", false, nil); !errors.Is(err, access.ErrExists) || !strings.Contains(err.Error(), `"bob"`) {
		t.Fatalf(`user "Bob" beside "bob": %v`, err)
	}
	if err := r.CreateRole("FinOps"); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateRole("finops"); !errors.Is(err, access.ErrExists) || !strings.Contains(err.Error(), `"FinOps"`) {
		t.Fatalf(`role "finops" beside "FinOps": %v`, err)
	}
	s, err := r.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != 1 || len(s.Roles) != 1 {
		t.Fatalf("refused names were saved: %d users, %d roles", len(s.Users), len(s.Roles))
	}
}
