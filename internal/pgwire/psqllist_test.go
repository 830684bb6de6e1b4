package pgwire_test

import (
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestPsqlRoleAndOtherListingsRun: psql's \du and \dg list the connection's own role (its access
// key id) and no other principal; \dc, \drds, \dF, \des, \dew, \dl, \dX, \dL and \dRs answer
// their (empty) listings instead of an error naming a missing catalog table or column.
func TestPsqlRoleAndOtherListingsRun(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	for _, cmd := range []string{`\du`, `\dg`} {
		out, err := psql(t, s.dsn(f.bob, ""), "-A", "-t", "-c", cmd)
		if err != nil || !strings.HasPrefix(out, f.bob.AccessKeyID+"|") || strings.Count(strings.TrimSpace(out), "\n") != 0 || strings.Contains(out, f.admin.AccessKeyID) {
			t.Errorf("%s: %v %q, want bob's key id alone", cmd, err, out)
		}
	}
	for _, cmd := range []string{`\dc`, `\drds`, `\dF`, `\des`, `\dew`, `\dl`, `\dX`, `\dL`, `\dL+`, `\dRs`, `\dRs+`} {
		if out, err := psql(t, s.dsn(f.bob, ""), "-c", cmd); err != nil || strings.Contains(out, "ERROR") {
			t.Errorf("%s: %v %s", cmd, err, out)
		}
	}
}
