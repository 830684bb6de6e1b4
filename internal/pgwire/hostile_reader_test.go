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
// a Parse with more parameters than the protocol carries. Each either answers only bob's rows or
// is refused with an error, the rest of the message is not run, and the session goes on.
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
			case *pgproto3.CopyInResponse, *pgproto3.CopyOutResponse, *pgproto3.CopyBothResponse:
				t.Fatalf("%s: the server began a COPY (%T)", sql, msg)
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
	// COPY in either direction is refused, never started: the session does not wait for data.
	for _, sql := range []string{
		"COPY (SELECT * FROM " + store + ") TO STDOUT",
		"COPY " + store + " TO STDOUT WITH (FORMAT csv)",
		"COPY " + store + " FROM STDIN",
		"SELECT 1; COPY (SELECT eventname FROM " + store + ") TO STDOUT",
	} {
		if rows, codes := query(sql); len(codes) != 1 || !strings.HasPrefix(codes[0], "ERROR ") || len(rows) > 1 {
			t.Errorf("%s: rows %v, errors %v; want one ERROR and no data", sql, rows, codes)
		}
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
