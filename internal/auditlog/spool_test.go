package auditlog_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

func spoolPath(lk *lake.Lake) string {
	return filepath.Join(lk.Dir, "auditlog", "spool", "spool.jsonl")
}

// auditSQL returns the statements of the audit store's events, sorted.
func auditSQL(t *testing.T, lk *lake.Lake) []string {
	t.Helper()
	ctx := context.Background()
	st, err := lk.Resolve(auditlog.StoreName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunInternal(ctx, "SELECT requestparameters['queryStatement'] FROM "+query.StoreTable(st.ID))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Rows {
		v, _ := r[0].(string)
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func spool(t *testing.T, lk *lake.Lake, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := auditlog.Append(lk, auditlog.Entry{Principal: "operator", Door: "cli", Action: "StartQuery", SQL: s}); err != nil {
			t.Fatal(err)
		}
	}
}

func validate(t *testing.T, lk *lake.Lake) auditlog.Report {
	t.Helper()
	rep, err := auditlog.Validate(context.Background(), lk)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func newLake(t *testing.T) *lake.Lake {
	t.Helper()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// TestSpooledActionsAreFoldedOnceAndValidate: actions appended to the spool are committed to the
// audit store by the next flush of any log of the lake — with its own entries, under one digest
// — the spool is then empty, a second flush adds nothing, and validate-logs finds every event
// covered by its digest.
func TestSpooledActionsAreFoldedOnceAndValidate(t *testing.T) {
	ctx := context.Background()
	lk := newLake(t)
	spool(t, lk, "SELECT 1", "SELECT 2", "SELECT 3")
	l := auditlog.Open(lk)
	l.Record(auditlog.Entry{Principal: "user:bob", Door: "api", Action: "StartQuery", SQL: "SELECT 4"})
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := auditlog.Open(lk).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := auditSQL(t, lk), []string{"SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4"}; !slices.Equal(got, want) {
		t.Errorf("audit store holds %q, want %q", got, want)
	}
	if rest, _ := filepath.Glob(filepath.Join(lk.Dir, "auditlog", "spool", "*.jsonl")); len(rest) != 0 {
		t.Errorf("spool files left after the fold: %v", rest)
	}
	if rep := validate(t, lk); len(rep.Problems) != 0 || rep.Covered != 4 {
		t.Errorf("validate: %+v", rep)
	}
}

// TestRecordsOfEveryShapeValidateAsIntact: validate-logs compares each row's columns with its
// record, so a record whose parameters hold what a hostile client sent (null, nested values,
// characters the JSON writer escapes, numbers, booleans, unicode) must still validate as intact
// — a false alarm would teach an operator to ignore the check.
func TestRecordsOfEveryShapeValidateAsIntact(t *testing.T) {
	ctx := context.Background()
	lk := newLake(t)
	l := auditlog.Open(lk)
	l.Record(auditlog.Entry{Principal: "user:bob", KeyID: "ALAKEXAMPLE", Door: "aws", Action: "GetEventDataStore",
		Params: map[string]any{"eventDataStore": nil, "nextToken": "", "maxResults": 1.25e3, "big": 12345678901234567890.0,
			"flag": true, "nested": map[string]any{"a": []any{1, nil, "x<y>&z"}}, "text": "é   <script>"},
		SourceIP: "2001:db8::1", UserAgent: "aws-cli/2 <&>", ErrorCode: "InvalidParameterException", ErrorMessage: "EventDataStore is <required>"})
	l.Record(auditlog.Entry{Principal: "operator", Door: "cli", Action: "StartQuery", SQL: "SELECT '<&>' WHERE 1 > 0", As: "user:bob", Tables: []string{`aws:cloudtrail.x`}, Rows: 3})
	l.Record(auditlog.Entry{Principal: "role:finops", Door: "pg", Action: "ListTables"})
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := validate(t, lk); len(rep.Problems) != 0 || rep.Covered != 3 {
		t.Errorf("validate: %+v", rep)
	}
}

// TestAFoldThatCrashedFoldsNothingTwice: a fold that crashed after it took the spool (its
// folding file left behind) — after its digest, or after its commit but before its digest — is
// finished by the next one without recording any action twice.
func TestAFoldThatCrashedFoldsNothingTwice(t *testing.T) {
	for _, afterDigest := range []bool{true, false} {
		ctx := context.Background()
		lk := newLake(t)
		spool(t, lk, "SELECT 1", "SELECT 2")
		kept, err := os.ReadFile(spoolPath(lk))
		if err != nil {
			t.Fatal(err)
		}
		if err := auditlog.Open(lk).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// The crash: the taken spool is still there, and (before the digest) the last digest is not.
		if err := os.WriteFile(filepath.Join(lk.Dir, "auditlog", "spool", "folding-1.jsonl"), kept, 0o600); err != nil {
			t.Fatal(err)
		}
		if !afterDigest {
			ds, _ := filepath.Glob(filepath.Join(lk.Dir, "auditlog", "digests", "*.json"))
			if err := os.Remove(ds[len(ds)-1]); err != nil {
				t.Fatal(err)
			}
		}
		spool(t, lk, "SELECT 3")
		if err := auditlog.Open(lk).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := auditSQL(t, lk), []string{"SELECT 1", "SELECT 2", "SELECT 3"}; !slices.Equal(got, want) {
			t.Errorf("after digest %v: the audit store holds %q, want %q", afterDigest, got, want)
		}
		if rest, _ := filepath.Glob(filepath.Join(lk.Dir, "auditlog", "spool", "*.jsonl")); len(rest) != 0 {
			t.Errorf("spool files left after the fold: %v", rest)
		}
	}
}

// TestADamagedSpoolIsReportedNeverDropped: a line torn by a crash during an append (the next
// append follows it), a line changed on disk, and a line removed from between two others: the
// fold commits every authentic record, tells of each problem, keeps the bad lines in a damaged
// file, and validate-logs reports them until that file is removed.
func TestADamagedSpoolIsReportedNeverDropped(t *testing.T) {
	ctx := context.Background()
	lk := newLake(t)
	spool(t, lk, "SELECT 1", "SELECT 2", "SELECT 3")
	b, err := os.ReadFile(spoolPath(lk))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n") // each with its newline
	changed := strings.Replace(lines[0], "SELECT 1", "SELECT 9", 1)
	// Line 2 removed; a torn line at the end (a crash during an append).
	torn := lines[2][:40]
	if err := os.WriteFile(spoolPath(lk), []byte(changed+lines[2]+torn), 0o600); err != nil {
		t.Fatal(err)
	}
	spool(t, lk, "SELECT 4") // appended after the torn line, which it ends
	l := auditlog.Open(lk)
	var problems []string
	l.SpoolProblem = func(p string) { problems = append(problems, p) }
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := auditSQL(t, lk), []string{"SELECT 3", "SELECT 4"}; !slices.Equal(got, want) {
		t.Errorf("audit store holds %q, want %q (the authentic records)", got, want)
	}
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"line 1: its HMAC does not match", "line 2: does not chain", "line 3: not a whole spool line"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the fold's problems %q lack %q", problems, want)
		}
	}
	rep := validate(t, lk)
	if got := strings.Join(rep.Problems, "\n"); len(rep.Problems) != 3 || !strings.Contains(got, "SELECT") && !strings.Contains(got, "torn") {
		t.Errorf("validate reports %q, want the three spool lines", rep.Problems)
	}
	damaged, _ := filepath.Glob(filepath.Join(lk.Dir, "auditlog", "spool", "damaged-*.jsonl"))
	if len(damaged) != 1 {
		t.Fatalf("damaged files: %v", damaged)
	}
	if d, _ := os.ReadFile(damaged[0]); !strings.Contains(string(d), "SELECT 9") {
		t.Errorf("the damaged file does not keep the changed line: %s", d)
	}
	os.Remove(damaged[0])
	if rep := validate(t, lk); len(rep.Problems) != 0 {
		t.Errorf("after the operator removed the damaged file: %q", rep.Problems)
	}
}

// BenchmarkAppend measures what recording one action costs a CLI process: one fsync'd line.
func BenchmarkAppend(b *testing.B) {
	lk, err := lake.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	e := auditlog.Entry{Principal: "operator", Door: "cli", Action: "StartQuery", SQL: "SELECT eventname, count(*) FROM \"aws:cloudtrail\".\"trail\" GROUP BY 1", Tables: []string{"aws:cloudtrail.trail"}, Rows: 12}
	for b.Loop() {
		if _, err := auditlog.Append(lk, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlushOne measures what recording one action cost a CLI process before the spool: a
// commit of its own (an engine, a Parquet file, the manifest, a digest).
func BenchmarkFlushOne(b *testing.B) {
	lk, err := lake.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	e := auditlog.Entry{Principal: "operator", Door: "cli", Action: "StartQuery", SQL: "SELECT eventname, count(*) FROM \"aws:cloudtrail\".\"trail\" GROUP BY 1", Tables: []string{"aws:cloudtrail.trail"}, Rows: 12}
	for b.Loop() {
		l := auditlog.Open(lk)
		l.Record(e)
		if err := l.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestALongStatementIsKeptCutWithItsLengthAndHash: a statement past MaxText (the Postgres door
// takes 16 MiB) is stored as its first MaxText bytes, its length and its SHA-256 — by a
// server's log and by the CLI's spool alike — so one user's long statements cannot grow the
// audit store by their size, and what ran can still be proven. A short one is kept whole.
func TestALongStatementIsKeptCutWithItsLengthAndHash(t *testing.T) {
	lk := newLake(t)
	long := "SELECT '" + strings.Repeat("é", 3*auditlog.MaxText) + "'"
	sum := sha256.Sum256([]byte(long))
	l := auditlog.Open(lk)
	l.Record(auditlog.Entry{Principal: "user:x", Door: "pg", Action: "StartQuery", SQL: long})
	spool(t, lk, long+" -- spooled", "SELECT 1")
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := auditSQL(t, lk) // sorted: the two long ones ("SELECT '…") first
	if len(got) != 3 || got[2] != "SELECT 1" {
		t.Fatalf("stored %d statements, want 3 with SELECT 1 whole", len(got))
	}
	for _, s := range got[:2] {
		if len(s) > auditlog.MaxText+200 || !utf8.ValidString(s) || !strings.HasPrefix(long, s[:auditlog.MaxText-1]) {
			t.Fatalf("a long statement stored as %d bytes (valid UTF-8 %v), want its first %d and a line", len(s), utf8.ValidString(s), auditlog.MaxText)
		}
	}
	want := fmt.Sprintf("the text was %d bytes, SHA-256 %x]", len(long), sum)
	if !strings.HasSuffix(got[0], want) && !strings.HasSuffix(got[1], want) {
		t.Errorf("no stored statement ends with %q", want)
	}
	if rep := validate(t, lk); len(rep.Problems) != 0 || rep.Covered != 3 {
		t.Errorf("validate-logs after cut statements: %+v", rep)
	}
}
