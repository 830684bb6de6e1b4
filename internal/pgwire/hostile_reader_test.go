package pgwire_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/pgwire"
)

// TestRestrictedReaderTricksOnTheWire: a row-filtered reader (bob) tries what the wire protocol
// offers besides a plain query — several statements in one Query message around a hidden table,
// SET search_path to the stores' schema and unqualified names, COPY TO STDOUT and COPY FROM STDIN,
// a Parse with more parameters than the protocol carries. Each either answers only bob's rows (a
// COPY TO STDOUT sends bob's rows only) or is refused with an error (COPY FROM never starts), the
// rest of the message is not run, and the session goes on.
func TestRestrictedReaderTricksOnTheWire(t *testing.T) {
	f := sharedLake(t)
	s := startServer(t, f.dir, pgwire.Options{})
	hc := rawSession(t, s.dsn(f.bob, ""))
	fe := hc.Frontend
	store := `"aws:cloudtrail"."` + f.storeID + `"`
	// query sends one Query message and returns its rows (as text) and error codes.
	query := func(sql string) (rows []string, codes []string) {
		t.Helper()
		fe.Send(&pgproto3.Query{String: sql})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		for {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
			switch m := msg.(type) {
			case *pgproto3.DataRow:
				var vals []string
				for _, v := range m.Values {
					vals = append(vals, string(v))
				}
				rows = append(rows, strings.Join(vals, "|"))
			case *pgproto3.ErrorResponse:
				codes = append(codes, m.Severity+" "+m.Code)
			case *pgproto3.CopyData: // a COPY TO STDOUT's line, as a row
				rows = append(rows, strings.TrimSuffix(string(m.Data), "\n"))
			case *pgproto3.CopyInResponse, *pgproto3.CopyBothResponse:
				t.Fatalf("%s: the server began a COPY that reads from the client (%T)", sql, msg)
			case *pgproto3.ReadyForQuery:
				return rows, codes
			}
		}
	}
	bobCount := fmt.Sprint(f.bobEvents)

	// Several statements: the hidden audit store stops the message, the statement after it does
	// not run, and the first one answered bob's count only.
	rows, codes := query("SELECT count(*) FROM " + store + `; SELECT count(*) FROM "aws:cloudtrail"."auditlake-audit"; SELECT 'after'`)
	if len(codes) != 1 || codes[0] != "ERROR 42P01" || len(rows) != 1 || rows[0] != bobCount {
		t.Errorf("count; hidden table; select: rows %v, errors %v; want [%s] then one 42P01", rows, codes, bobCount)
	}
	// search_path is the door's record for SHOW: the engine's name resolution does not move, an
	// unqualified hidden table stays unknown, and the store's rows are bob's.
	rows, codes = query(`SET search_path TO "aws:cloudtrail", main; SHOW search_path; SELECT count(*) FROM "auditlake-audit"`)
	if len(codes) != 1 || codes[0] != "ERROR 42P01" {
		t.Errorf("search_path then the audit store unqualified: rows %v, errors %v; want a 42P01", rows, codes)
	}
	rows, codes = query(`SET search_path = '"aws:cloudtrail"'; SELECT count(*) FROM "` + f.storeID + `"`)
	if len(codes) == 0 && (len(rows) != 1 || rows[0] != bobCount) {
		t.Errorf("search_path then the store unqualified: rows %v; want bob's count %s or an error", rows, bobCount)
	}
	// COPY TO STDOUT sends bob's rows only, whichever way it names them; COPY FROM STDIN is
	// refused, never started: the session does not wait for data.
	for sql, first := range map[string]int{
		"COPY (SELECT eventsource FROM " + store + ") TO STDOUT":                             0,
		"COPY " + store + " (eventsource) TO STDOUT WITH (FORMAT csv)":                       0,
		"SELECT 'ec2.amazonaws.com'; COPY (SELECT eventsource FROM " + store + ") TO STDOUT": 1,
	} {
		rows, codes := query(sql)
		n := 0
		for _, r := range rows {
			if r == "ec2.amazonaws.com" {
				n++
			}
		}
		if len(codes) != 0 || len(rows) != f.bobEvents+first || n != len(rows) {
			t.Errorf("%s: %d rows (%d of bob's source), errors %v; want %d of bob's rows", sql, len(rows), n, codes, f.bobEvents+first)
		}
	}
	if rows, codes := query("COPY " + store + " FROM STDIN"); len(codes) != 1 || codes[0] != "ERROR 25006" || len(rows) != 0 {
		t.Errorf("COPY FROM STDIN: rows %v, errors %v; want one ERROR 25006 and no data", rows, codes)
	}
	// A Parse naming more parameters than a Bind can carry (65,535; the count of a Parse's
	// types is 16 bits, so a client cannot send more of them): refused, and the session goes on
	// after Sync.
	fe.Send(&pgproto3.Parse{Query: "SELECT $70000"})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if codes, ready, err := replies(fe); !ready || len(codes) != 1 || codes[0] != "ERROR 54000" {
		t.Errorf("Parse of $70000: %v %v %v, want one ERROR 54000", codes, ready, err)
	}
	if rows, codes := query("SELECT count(*) FROM " + store); len(codes) != 0 || len(rows) != 1 || rows[0] != bobCount {
		t.Errorf("the session after the tricks: rows %v, errors %v, want [%s]", rows, codes, bobCount)
	}
}
