package cli

import (
	"errors"
	"testing"
)

// TestPgFlagsRefuseAnUnencryptedDoorBeyondLoopback: --pg-listen off loopback needs TLS, and a
// certificate needs its key; each refusal is a usage error.
func TestPgFlagsRefuseAnUnencryptedDoorBeyondLoopback(t *testing.T) {
	for _, c := range []struct {
		f  pgFlags
		ok bool
	}{
		{pgFlags{}, true},
		{pgFlags{listen: "127.0.0.1:5432"}, true},
		{pgFlags{listen: "localhost:5432"}, true},
		{pgFlags{listen: "[::1]:5432"}, true},
		{pgFlags{listen: "0.0.0.0:5432"}, false},
		{pgFlags{listen: "db.example.com:5432"}, false},
		{pgFlags{listen: "0.0.0.0:5432", tlsCert: "c.pem", tlsKey: "k.pem"}, true},
		{pgFlags{listen: "127.0.0.1:5432", tlsCert: "c.pem"}, false},
		{pgFlags{listen: "5432"}, false},
	} {
		err := c.f.check()
		var ue *UsageError
		if (err == nil) != c.ok || (err != nil && !errors.As(err, &ue)) {
			t.Errorf("%+v: %v, want ok=%v (a usage error otherwise)", c.f, err, c.ok)
		}
	}
}
