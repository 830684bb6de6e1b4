package pgwire_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestDeallocateAndDiscardAllCloseWhatTheyName: DEALLOCATE name and DEALLOCATE ALL (psycopg 3
// closes its prepared statements so) close prepared statements, which a Bind then no longer
// finds (26000); DISCARD ALL (connection pools' reset) closes statements and cursors and resets
// settings; DEALLOCATE of an unknown name is 26000. Through pgx's extended and simple protocol.
func TestDeallocateAndDiscardAllCloseWhatTheyName(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.admin, "")).PgConn()
	ctx := context.Background()
	prepare := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if _, err := c.Prepare(ctx, n, "SELECT 1", nil); err != nil {
				t.Fatalf("prepare %s: %v", n, err)
			}
		}
	}
	exec := func(sql string) error {
		_, err := c.Exec(ctx, sql).ReadAll()
		return err
	}
	code := func(err error) string {
		if pe, ok := err.(*pgconn.PgError); ok {
			return pe.Code
		}
		return ""
	}
	gone := func(name string) {
		t.Helper()
		if err := c.ExecPrepared(ctx, name, nil, nil, nil).Read().Err; code(err) != "26000" {
			t.Errorf("statement %s after it was closed: %v, want 26000", name, err)
		}
	}
	prepare("one", "two", "three")
	if err := exec("DEALLOCATE one; DEALLOCATE PREPARE \"two\""); err != nil {
		t.Fatal(err)
	}
	gone("one")
	gone("two")
	if err := c.ExecPrepared(ctx, "three", nil, nil, nil).Read().Err; err != nil {
		t.Fatalf("a statement not deallocated: %v", err)
	}
	if err := exec("DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	gone("three")
	if err := exec("DEALLOCATE nosuch"); code(err) != "26000" {
		t.Errorf("DEALLOCATE of an unknown statement: %v, want 26000", err)
	}
	prepare("four")
	if err := exec("SET statement_timeout = 100000; DECLARE held CURSOR WITH HOLD FOR SELECT 1; DISCARD ALL"); err != nil {
		t.Fatal(err)
	}
	gone("four")
	if err := exec("FETCH held"); code(err) != "34000" {
		t.Errorf("a cursor after DISCARD ALL: %v, want 34000", err)
	}
	res, err := c.Exec(ctx, "SHOW statement_timeout").ReadAll()
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || strings.TrimSpace(string(res[0].Rows[0][0])) != "0" {
		t.Errorf("statement_timeout after DISCARD ALL: %v %v", err, res)
	}
}

// TestDiscardAllThroughTheExtendedProtocol: DISCARD ALL sent as a prepared statement (psycopg
// 3's execute and pgx's ExecParams use the extended protocol) closes the cursors and resets the
// settings, as through the simple protocol. It failed with 34000 "portal does not exist": the
// Describe that ran it closed the very portal the following Execute then looked for.
func TestDiscardAllThroughTheExtendedProtocol(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	c := pgxConnect(t, s.dsn(f.bob, "")).PgConn()
	ctx := context.Background()
	if _, err := c.Exec(ctx, "SET statement_timeout = 5000; DECLARE c CURSOR WITH HOLD FOR SELECT 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if res := c.ExecParams(ctx, "DISCARD ALL", nil, nil, nil, nil).Read(); res.Err != nil || res.CommandTag.String() != "DISCARD ALL" {
		t.Fatalf("DISCARD ALL: %v %q", res.Err, res.CommandTag)
	}
	if err := c.ExecParams(ctx, "FETCH c", nil, nil, nil, nil).Read().Err; err == nil || !strings.Contains(err.Error(), "34000") {
		t.Errorf("the cursor after DISCARD ALL: %v, want 34000", err)
	}
	if res := c.ExecParams(ctx, "SHOW statement_timeout", nil, nil, nil, nil).Read(); res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "0" {
		t.Errorf("statement_timeout after DISCARD ALL: %v %q, want 0", res.Err, res.Rows)
	}
}
