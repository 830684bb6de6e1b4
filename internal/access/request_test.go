package access_test

import (
	"errors"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
)

// TestFingerprintAndCurrentFollowTheRegistry: a principal's fingerprint is the content of its
// grants (a grant through a role counts, ids and dates do not) and Current returns the principal
// as the registry stands now — or ErrUnauthenticated for a user or key disabled since.
func TestFingerprintAndCurrentFollowTheRegistry(t *testing.T) {
	r := access.Open(t.TempDir())
	c, err := r.CreateUser("bob", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateUser("carol", false, nil); err != nil {
		t.Fatal(err)
	}
	p, err := r.Authenticate(c.AccessKeyID, c.SecretAccessKey)
	if err != nil {
		t.Fatal(err)
	}
	before := p.Fingerprint()
	carol, _ := r.Principal("user:carol")
	if carol.Fingerprint() != before {
		t.Errorf("two principals without grants have different fingerprints")
	}
	if err := r.CreateRole("finops"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetMember("finops", "bob", true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddGrant(access.Grant{Privilege: access.Select, Principal: "role:finops", Resource: "all"}, nil); err != nil {
		t.Fatal(err)
	}
	now, err := r.Current(p)
	if err != nil {
		t.Fatal(err)
	}
	if now.Fingerprint() == before || p.Fingerprint() != before {
		t.Errorf("a role's grant did not change the current fingerprint (or changed the old principal's)")
	}
	if now.Table("store:x") != nil || p.Table("store:x") == nil {
		t.Errorf("Current does not carry the new grant on all")
	}
	if _, err := r.AddGrant(access.Grant{Privilege: access.Select, Principal: "user:carol", Resource: "all"}, nil); err != nil {
		t.Fatal(err)
	}
	carolNow, _ := r.Current(carol)
	if carolNow.Fingerprint() != now.Fingerprint() {
		t.Errorf("the same grant given directly and through a role: different fingerprints")
	}
	if err := r.SetDisabled("bob", c.AccessKeyID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Current(p); !errors.Is(err, access.ErrUnauthenticated) {
		t.Errorf("Current of a principal whose key was disabled: %v", err)
	}
	// Enabled again: the principal made before the disable stays refused (a connection or
	// session held across it ends); a new login works.
	if err := r.SetDisabled("bob", c.AccessKeyID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Current(p); !errors.Is(err, access.ErrUnauthenticated) {
		t.Errorf("Current of a principal made before its key was disabled and enabled again: %v", err)
	}
	again, err := r.Authenticate(c.AccessKeyID, c.SecretAccessKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Current(again); err != nil {
		t.Errorf("Current of a login after the key was enabled again: %v", err)
	}
	if err := r.SetDisabled("bob", "", true); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDisabled("bob", "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Current(again); !errors.Is(err, access.ErrUnauthenticated) {
		t.Errorf("Current of a principal made before its user was disabled and enabled again: %v", err)
	}
	if _, err := r.Current(access.Operator()); err != nil {
		t.Errorf("Current of the operator: %v", err)
	}
}

// TestPutGrantsNameAnExistingChannel: a put grant needs channel:REF that the resolver knows,
// is stored under the channel's id, takes no columns, and gives CanPut on that channel only.
func TestPutGrantsNameAnExistingChannel(t *testing.T) {
	r := access.Open(t.TempDir())
	if _, err := r.CreateUser("sender", false, nil); err != nil {
		t.Fatal(err)
	}
	resolve := func(ref string) (string, error) {
		if ref == "my-app" || ref == "c-1" {
			return "c-1", nil
		}
		return "", errors.New("no such channel")
	}
	check := func(g *access.Grant) error { return access.CheckPutGrant(g, resolve) }
	for _, g := range []access.Grant{
		{Privilege: access.Put, Principal: "user:sender", Resource: "channel:nope"},
		{Privilege: access.Put, Principal: "user:sender", Resource: "store:my-app"},
		{Privilege: access.Put, Principal: "user:sender", Resource: "channel:my-app", RowFilter: "true"},
	} {
		if _, err := r.AddGrant(g, check); err == nil {
			t.Errorf("grant %+v was accepted", g)
		}
	}
	if _, err := r.AddGrant(access.Grant{Privilege: access.Put, Principal: "user:sender", Resource: "channel:my-app"}, nil); err == nil {
		t.Errorf("a put grant without its channel checked was accepted")
	}
	g, err := r.AddGrant(access.Grant{Privilege: access.Put, Principal: "user:sender", Resource: "channel:my-app"}, check)
	if err != nil || g.Resource != "channel:c-1" {
		t.Fatalf("put grant: %+v, %v", g, err)
	}
	p, _ := r.Principal("user:sender")
	if !p.CanPut("channel:c-1") || p.CanPut("channel:c-2") || p.Table("store:c-1") == nil || p.Sees("store:c-1") {
		t.Errorf("the put grant gives the wrong access")
	}
}
