package access

import (
	"testing"
	"time"
)

// TestIdentityOutlivesKeysButNotTheUser: a principal's identity stays with its user through key
// rotation, and differs for a user deleted and created again with the same name, for a role of
// the same name and for a user created before users had ids (its creation time stands in).
func TestIdentityOutlivesKeysButNotTheUser(t *testing.T) {
	reg := Open(t.TempDir())
	first, err := reg.CreateUser("bob", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, p1, err := reg.Secret(first.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := reg.CreateKey("bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, p2, err := reg.Secret(rotated.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Identity() != p2.Identity() {
		t.Errorf("two keys of one user: identities %q and %q", p1.Identity(), p2.Identity())
	}
	if err := reg.CreateRole("bob"); err != nil {
		t.Fatal(err)
	}
	role, err := reg.Principal("role:bob")
	if err != nil {
		t.Fatal(err)
	}
	if role.Identity() == p1.Identity() {
		t.Errorf("role bob and user bob share identity %q", role.Identity())
	}
	if err := reg.DeleteUser("bob"); err != nil {
		t.Fatal(err)
	}
	again, err := reg.CreateUser("bob", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, p3, err := reg.Secret(again.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if p3.Name() != p1.Name() || p3.Identity() == p1.Identity() {
		t.Errorf("bob deleted and created again: names %q %q, identities %q %q (want same name, other identity)", p1.Name(), p3.Name(), p1.Identity(), p3.Identity())
	}
	if cur, err := reg.Current(p3); err != nil || cur.Identity() != p3.Identity() {
		t.Errorf("Current keeps the identity: %v, %v", cur, err)
	}

	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	legacy := func(at time.Time) string { return (&User{Name: "old", Created: at}).identity() }
	if legacy(created) == "" || legacy(created) == legacy(created.Add(time.Nanosecond)) {
		t.Errorf("a user without an id: identity %q", legacy(created))
	}
	if Operator().Identity() != "operator" {
		t.Errorf("operator's identity %q", Operator().Identity())
	}
}
