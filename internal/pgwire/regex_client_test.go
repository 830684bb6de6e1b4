package pgwire_test

import (
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestPsqlRegexOperatorsOnData: PostgreSQL's ~, ~*, !~ and !~* in a data query through psql
// find a match anywhere (the engine's own ~ matches the whole string), with PostgreSQL's
// precedence: each count equals the Trino regexp_like query written out by hand.
func TestPsqlRegexOperatorsOnData(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	from := `FROM "aws:cloudtrail"."` + f.storeID + `"`
	for pg, trino := range map[string]string{
		`eventsource ~ 'ec2'`:   `regexp_like(eventsource, 'ec2')`,
		`eventsource !~* 'EC2'`: `NOT regexp_like(eventsource, '(?i)EC2')`,
		`eventsource || '/' || eventname ~ '^ec2[.]amazonaws[.]com/Run'`: `regexp_like(eventsource || '/' || eventname, '^ec2[.]amazonaws[.]com/Run')`,
		`NOT eventname ~ 'Describe' AND eventsource ~ 'amazonaws'`:       `NOT regexp_like(eventname, 'Describe') AND regexp_like(eventsource, 'amazonaws')`,
	} {
		out, err := psql(t, s.dsn(f.admin, ""), "-A", "-t", "-c", `SELECT count(*) `+from+` WHERE `+pg, "-c", `SELECT count(*) `+from+` WHERE `+trino)
		lines := strings.Fields(out)
		if err != nil || len(lines) != 2 || lines[0] != lines[1] {
			t.Errorf("%s: %v, counts %q (want it equal to %s's)", pg, err, lines, trino)
		}
	}
	out, err := psql(t, s.dsn(f.admin, ""), "-A", "-t", "-c", `SELECT count(*) `+from+` WHERE eventsource ~ 'ec2'`)
	if err != nil || strings.TrimSpace(out) == "0" {
		t.Errorf("eventsource ~ 'ec2' matched nothing (a whole-string match): %v %q", err, out)
	}
}
