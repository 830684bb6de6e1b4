package access

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Identity names the principal as what it owns (a CloudTrail Lake API query and its results)
// belongs to it: its Name and the registry id of its user or role, so that a user deleted and
// created again with the same name, or a role named like a user, is another identity and never
// reads what the former one left. Rotating or adding an access key keeps the identity; the
// operator's is "operator".
func (p *Principal) Identity() string {
	if p.id == "" {
		return p.Name()
	}
	return p.Name() + "#" + p.id
}

// newID is a random registry id of a user or role.
func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// identity is the registry id of u (nil: none): its ID, or for a user created before users had
// one, its creation time, which a user created again after a delete does not share.
func (u *User) identity() string {
	switch {
	case u == nil:
		return ""
	case u.ID != "":
		return u.ID
	}
	return "created-" + u.Created.UTC().Format(time.RFC3339Nano)
}
