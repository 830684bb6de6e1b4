package pgwire_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestUnknownSettingsAreRefusedAsPostgresDoes: SHOW, SET and RESET of a name that is no
// configuration parameter answer PostgreSQL's ERROR 42704 "unrecognized configuration parameter"
// (SHOW answered an empty row), a read-only parameter refuses SET with 55P02, and custom "x.y"
// names, RESET ALL and SET … TO DEFAULT work — through psql and through psycopg2.
func TestUnknownSettingsAreRefusedAsPostgresDoes(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	dsn := s.dsn(f.admin, "")

	// psql goes on after an error (ON_ERROR_STOP=0) in one session and prints SQLSTATEs.
	out, _ := psql(t, dsn, "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose", "-A", "-t",
		"-c", "SHOW nosuch_setting",
		"-c", "SET nosuch_setting = 1",
		"-c", "RESET nosuch_setting",
		"-c", "SET server_version = '9.0'",
		"-c", "SHOW myapp.flag",
		"-c", "SET myapp.flag = 'on'",
		"-c", "SHOW myapp.flag",
		"-c", "SET application_name TO 'x1'",
		"-c", "SHOW application_name",
		"-c", "SET application_name TO DEFAULT",
		"-c", "SET TIME ZONE 'UTC'",
		"-c", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
		"-c", "RESET ALL",
		"-c", "SHOW myapp.flag", // a placeholder once set: empty, no error
		"-c", "SHOW myapp.never",
		"-c", "SHOW server_version",
	)
	for _, want := range []string{
		`ERROR:  42704: unrecognized configuration parameter "nosuch_setting"`,
		`ERROR:  55P02: parameter "server_version" cannot be changed`,
		`ERROR:  42704: unrecognized configuration parameter "myapp.flag"`,
		"\non\n", "\nx1\n", "15.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("psql: missing %q in\n%s", want, out)
		}
	}
	if n := strings.Count(out, "42704"); n != 5 {
		t.Errorf("psql: %d errors 42704, want 5 (SHOW, SET, RESET of nosuch_setting; SHOW of myapp.flag before SET, of myapp.never):\n%s", n, out)
	}
	if n := strings.Count(out, "ERROR"); n != 6 {
		t.Errorf("psql: %d errors, want 6 (the session statements PostgreSQL accepts were refused):\n%s", n, out)
	}

	py := debianPython(t, "psycopg2")
	script := `
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
for q in ("SHOW nosuch_setting", "SET nosuch_setting TO 'a'", "RESET nosuch_setting", "SHOW server_version", "SET myapp.flag = 'on'", "SHOW myapp.flag"):
    try:
        cur.execute(q)
        print(q, "->", cur.fetchone()[0] if cur.description else cur.statusmessage)
    except psycopg2.Error as e:
        print(q, "->", e.pgcode, type(e).__name__, e.pgerror.strip())
conn.close()
`
	pyOut, err := exec.Command(py, "-c", script, dsn).CombinedOutput()
	want := `SHOW nosuch_setting -> 42704 UndefinedObject ERROR:  unrecognized configuration parameter "nosuch_setting"
SET nosuch_setting TO 'a' -> 42704 UndefinedObject ERROR:  unrecognized configuration parameter "nosuch_setting"
RESET nosuch_setting -> 42704 UndefinedObject ERROR:  unrecognized configuration parameter "nosuch_setting"
SHOW server_version -> 15.0
SET myapp.flag = 'on' -> SET
SHOW myapp.flag -> on`
	if err != nil || strings.TrimSpace(string(pyOut)) != want {
		t.Fatalf("psycopg2: %v\n got:\n%s\nwant:\n%s", err, pyOut, want)
	}
}

// TestCurrentSettingOfAnUnknownName: current_setting() of a name that is no parameter is
// PostgreSQL's 42704 (it answered NULL); with missing_ok it is NULL, and a PostgreSQL parameter
// the server does not emulate is NULL, not an error.
func TestCurrentSettingOfAnUnknownName(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	out, _ := psql(t, s.dsn(f.admin, ""), "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose", "-A", "-t",
		"-c", "SELECT current_setting('nosuch_setting')",
		"-c", "SELECT coalesce(current_setting('nosuch_setting', true), 'missing')",
		"-c", "SELECT coalesce(current_setting('work_mem'), 'not emulated'), current_setting('server_version_num')",
	)
	for _, want := range []string{`ERROR:  42704: unrecognized configuration parameter "nosuch_setting"`, "\nmissing\n", "not emulated|150000"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

// TestValueStylesOtherThanTheServersAreRefused: SET TimeZone (and SET TIME ZONE) to a zone other
// than UTC, a DateStyle other than ISO, an IntervalStyle other than postgres and a
// client_encoding other than UTF8 are refused with 22023: they changed only what SHOW said while
// every timestamptz was still written in UTC, so a client read times in a zone they were not
// in. UTC by any of its names or offsets, the ISO DateStyle with any field order, SET NAMES
// 'UTF8' and psycopg2's set_client_encoding('UTF8') are taken, and LOCAL and DEFAULT reset.
func TestValueStylesOtherThanTheServersAreRefused(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	dsn := s.dsn(f.admin, "")
	args := []string{"-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose", "-A", "-t"}
	for _, stmt := range []string{
		"SET TimeZone = 'Europe/Paris'",
		"SHOW TimeZone",
		"SET TIME ZONE 'America/New_York'",
		"SET TIME ZONE -5",
		"SET DateStyle = 'German'",
		"SET IntervalStyle = iso_8601",
		"SET client_encoding = 'LATIN1'",
		"SET NAMES 'WIN1252'",
		"SELECT CAST(TIMESTAMP '2024-01-02 03:04:05' AS TIMESTAMP WITH TIME ZONE)",
		"SET TIME ZONE 'Etc/UTC'",
		"SHOW TIME ZONE",
		"SET timezone TO '+00:00'",
		"SET TIME ZONE LOCAL",
		"SHOW TimeZone",
		"SET DateStyle = ISO, DMY",
		"SET NAMES 'UTF8'",
		"SET client_encoding TO 'utf-8'",
	} {
		args = append(args, "-c", stmt)
	}
	out, _ := psql(t, dsn, args...)
	if n := strings.Count(out, "ERROR:  22023: invalid value for parameter"); n != 7 {
		t.Errorf("psql: %d errors 22023, want 7:\n%s", n, out)
	}
	if n := strings.Count(out, "ERROR"); n != 7 {
		t.Errorf("psql: %d errors, want 7 (a value naming UTC, ISO or UTF8 was refused):\n%s", n, out)
	}
	for _, want := range []string{`"timezone": "Europe/Paris": auditlake writes every timestamp with time zone in UTC`,
		"\nUTC\n", "2024-01-02 03:04:05+00\n", "\nEtc/UTC\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("psql: missing %q in\n%s", want, out)
		}
	}
	if strings.Count(out, "\nUTC\n") != 2 {
		t.Errorf("psql: SHOW TimeZone after the refused SET and after SET TIME ZONE LOCAL are UTC:\n%s", out)
	}

	py := debianPython(t, "psycopg2")
	script := `
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
conn.set_client_encoding('UTF8')
print(conn.encoding)
try:
    conn.set_client_encoding('LATIN1')
except psycopg2.Error as e:
    print(e.pgcode)
`
	pyOut, err := exec.Command(py, "-c", script, dsn).CombinedOutput()
	if err != nil || strings.TrimSpace(string(pyOut)) != "UTF8\n22023" {
		t.Fatalf("psycopg2: %v\n%s", err, pyOut)
	}
}
