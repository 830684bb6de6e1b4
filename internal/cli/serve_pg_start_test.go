package cli_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cli"
)

// TestServeWithThePostgresDoorExitsWhenItCannotStart: serve --pg-listen starts the Postgres
// door before the HTTP port; a failure after that (the HTTP port taken, a login link for an
// unknown user) must end serve with its error and close the Postgres door, as without
// --pg-listen. serve waited for the door to end before stopping it, so it hung there for good:
// the error never shown, the Postgres door answering queries without the HTTP door.
func TestServeWithThePostgresDoorExitsWhenItCannotStart(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, 0, dir, "eds", "create", "trail")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"HTTP port taken", []string{"--listen", taken.Addr().String()}, "address already in use"},
		{"login link for an unknown user", []string{"--listen", "127.0.0.1:0", "--login-link", "nobody"}, `user "nobody"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pg := freePort(t)
			type result struct {
				stderr string
				code   int
			}
			done := make(chan result, 1)
			go func() {
				_, stderr, code := run(t, dir, append([]string{"serve", "--no-collect", "--pg-listen", pg}, tt.args...)...)
				done <- result{stderr, code}
			}()
			select {
			case r := <-done:
				if r.code != cli.ExitFailure || !strings.Contains(r.stderr, tt.wantErr) {
					t.Errorf("serve: exit %d, stderr %q; want exit %d naming %q", r.code, r.stderr, cli.ExitFailure, tt.wantErr)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("serve --pg-listen %s %s still runs after 30 s; want it to exit naming %q", pg, strings.Join(tt.args, " "), tt.wantErr)
			}
			if c, err := net.DialTimeout("tcp", pg, time.Second); err == nil {
				c.Close()
				t.Errorf("the Postgres door %s still accepts connections after serve ended", pg)
			}
		})
	}
}

// freePort is a loopback address no one listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
