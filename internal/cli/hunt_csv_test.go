package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
)

// TestAppendCSVFieldIsEncodingCSV: a cell is written as encoding/csv writes it, for the cells
// that need quoting, random ones over the characters that matter, and longer ones with one of
// them at any place.
func TestAppendCSVFieldIsEncodingCSV(t *testing.T) {
	cells := []string{"", "a", `\.`, `\..`, `.\`, " a", "a ", "\ta", "\u00a0a", "\u2028x", "\u3000", "a,b", `a"b`, `"`, `""`, "a\nb", "a\rb", "\r\n",
		"ü", "\x00", "\xff", "\xe2\x80", "=1+2", "arn:aws:sts::1:assumed-role/a/b"}
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", ",", `"`, "\r", "\n", " ", "\t", `\`, ".", "\u0085", "\u00a0", "é", "\x00", "\xff"}
	for range 5000 {
		var b strings.Builder
		for range rng.Intn(6) {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		cells = append(cells, b.String())
	}
	// Longer cells, one special character (or none) anywhere in them: hasCSVSpecial reads
	// eight bytes at a time.
	for range 5000 {
		b := []byte(strings.Repeat("arn:aws:sts::1:assumed-role/x", 2)[:rng.Intn(50)])
		if len(b) > 0 && rng.Intn(4) > 0 {
			c := alphabet[rng.Intn(len(alphabet))]
			i := rng.Intn(len(b))
			b = append(b[:i], append([]byte(c), b[i:]...)...)
		}
		cells = append(cells, string(b))
	}
	for _, c := range cells {
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		w.Write([]string{c, c})
		w.Flush()
		got := append(appendCSVField(nil, c), ',')
		got = append(appendCSVField(got, c), '\n')
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("cell %q: %q, encoding/csv writes %q", c, got, want.Bytes())
		}
	}
}

// TestHuntCSVIsThePlainSQLResult: auditlake hunt --rules all --format csv (prepared, sliced,
// overlapped, written by huntCSV) writes byte for byte what the row stream writes of each rule's
// plain SQL result (the rule's predicate over the whole store, ordered by time and event id; a
// SQL rule's and launch-compliance's own evaluation), with and without --csv-safe: over the real
// samples (stratus-red-team detonations and a record whose fields need CSV quoting) and over
// the generator's events.
// TestHuntCSVTimeIsFormatValue: huntCSV.appendTime writes what formatValue's
// AppendFormat(…, "2006-01-02 15:04:05.999999") does, for times in order (a hunt's) and out of
// it, across days and years, before 1970 and in other zones.
func TestHuntCSVTimeIsFormatValue(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	for i := range 20000 {
		times = append(times, base.Add(time.Duration(i)*time.Duration(rng.Int63n(int64(40*time.Minute)))))
	}
	for range 5000 {
		times = append(times, time.Unix(rng.Int63n(1<<36)-1<<35, rng.Int63n(1e9)).In(time.FixedZone("x", 3600*rng.Intn(20)-36000)))
	}
	times = append(times, time.Unix(-1, 0), time.Unix(-86400, 999999999), time.Unix(0, 0), time.Date(1969, 12, 31, 23, 59, 59, 1000, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 500000000, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	c := &huntCSV{}
	for _, tm := range times {
		want := tm.UTC().AppendFormat(nil, "2006-01-02 15:04:05.999999")
		if got := c.appendTime(nil, tm); !bytes.Equal(got, want) {
			t.Fatalf("appendTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestHuntCSVIsThePlainSQLResult(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	do := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Run(ctx, append([]string{"--data", dir}, args...), strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("auditlake %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
	td := func(parts ...string) string {
		return filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...)
	}
	gen := filepath.Join(t.TempDir(), "gen")
	do("generate", "--out", gen, "--events", "20000", "--days", "3", "--seed", "7")
	// Root calls (root-account-use matches them) whose fields need quoting, start with a space,
	// a formula character, or are missing.
	odd := t.TempDir()
	rec := `{"eventVersion":"1.08","eventTime":"2024-05-01T10:00:00Z","eventSource":"iam.amazonaws.com","awsRegion":"us-east-1","recipientAccountId":"111122223333",` +
		`"userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root","principalId":"111122223333"}`
	records := []string{
		rec + `,"eventID":"q1","eventName":"Get,\"Odd\"\nName","sourceIPAddress":" 10.0.0.1"}`,
		rec + `,"eventID":"q2","eventName":"=cmd|' /C calc'!A0","sourceIPAddress":"@evil"}`,
		rec + `,"eventID":"q3","eventName":"\\.","sourceIPAddress":"\r\n"}`,
		strings.Replace(rec, `"arn":"arn:aws:iam::111122223333:root","principalId":"111122223333"`, `"principalId":"-1"`, 1) + `,"eventID":"q4","eventName":"ListUsers"}`,
		strings.Replace(rec, "10:00:00Z", "10:00:00.123400Z", 1) + `,"eventID":"q5","eventName":"ListRoles"}`,
		strings.Replace(rec, "10:00:00Z", "00:00:00Z", 1) + `,"eventID":"q6","eventName":"ListGroups"}`,
	}
	if err := os.WriteFile(filepath.Join(odd, "odd.json"), []byte(`{"Records":[`+strings.Join(records, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	do("eds", "create", "samples")
	do("eds", "create", "gen")
	do("ingest", "cloudtrail", "--eds", "samples", td("stratus-red-team-detonation-logs"))
	do("ingest", "cloudtrail", "--eds", "samples", odd)
	do("ingest", "cloudtrail", "--eds", "gen", filepath.Join(gen, "AWSLogs"))
	do("rule", "add", "--sigma", td("sigma-aws-cloudtrail-rules", "rules"))
	for _, b := range []string{"root-account-use", "cloudtrail-logging-stopped", "console-login-without-mfa"} {
		do("rule", "add", b, "--builtin", b)
	}
	do("rule", "add", "launches", "--builtin", "launch-compliance", "--approved-config", filepath.Join(gen, "approved-templates.json"))
	do("rule", "add", "deletes", "--sql", "SELECT eventtime, eventid, eventname, sourceipaddress FROM {events} WHERE eventname LIKE 'Delete%'", "--severity", "low")

	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := rules.List(lk)
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"samples", "gen"} {
		st, err := lk.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		// Each rule's plain result, as rows of the hunt's columns.
		var rows [][]any
		for _, r := range all {
			if !r.Enabled {
				continue
			}
			pred, err := rules.Predicate(r)
			if err != nil {
				t.Fatal(err)
			}
			if pred == "" {
				ms, err := rules.Evaluate(ctx, s, r, rules.Target{Store: st})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ms {
					rows = append(rows, []any{m.Rule, m.Severity, m.EventTime, m.EventID, m.EventName, m.Principal, m.Account, m.Region, m.SourceIP, m.Summary})
				}
				continue
			}
			res, err := s.RunInternal(ctx, "SELECT eventtime, eventid, eventname, eventsource, coalesce(useridentity.arn, useridentity.principalid, useridentity.type), "+
				"recipientaccountid, awsregion, sourceipaddress FROM "+query.StoreTable(st.ID)+" WHERE "+pred+" ORDER BY eventtime, eventid")
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range res.Rows {
				f := make([]string, len(x))
				for i, v := range x[1:] {
					f[i+1], _ = v.(string)
				}
				dash := func(s string) string {
					if s == "" {
						return "-"
					}
					return s
				}
				rows = append(rows, []any{r.ID, r.Severity, x[0], f[1], f[2], f[4], f[5], f[6], f[7], f[2] + " (" + f[3] + ") by " + dash(f[4]) + " from " + dash(f[7])})
			}
		}
		for _, safe := range []bool{false, true} {
			var want bytes.Buffer
			out := newRowStream(&want, "csv", huntColumns(), safe)
			for _, row := range rows {
				if tm, ok := row[2].(time.Time); ok && tm.IsZero() {
					row[2] = nil
				}
				if err := out.row(row); err != nil {
					t.Fatal(err)
				}
			}
			if err := out.end(); err != nil {
				t.Fatal(err)
			}
			args := []string{"hunt", "--eds", name, "--rules", "all", "--format", "csv"}
			if safe {
				args = append(args, "--csv-safe")
			}
			got := do(args...)
			if got != want.String() {
				g, w := strings.Split(got, "\n"), strings.Split(want.String(), "\n")
				for i := range min(len(g), len(w)) {
					if g[i] != w[i] {
						t.Fatalf("%s (safe %v): line %d of the hunt is\n%q\nthe plain SQL's\n%q\n(%d and %d lines)", name, safe, i+1, g[i], w[i], len(g), len(w))
					}
				}
				t.Fatalf("%s (safe %v): the hunt wrote %d lines, the plain SQL %d", name, safe, len(g), len(w))
			}
			if n := strings.Count(got, "\n"); n < 50 {
				t.Errorf("%s: only %d lines", name, n)
			}
			if name == "samples" && !strings.Contains(got, `"Get,""Odd""`) {
				t.Errorf("the record whose name needs quoting is not in the hunt's output")
			}
		}
	}
}

// TestHuntCSVMatchIsTheRowStream: huntCSV writes each match as the row stream's encoding/csv
// writes it, with and without --csv-safe, when it keeps the rule's cells and the time's second
// from the match before: matches of two rules (one whose id and severity need quoting) in
// turn, in the same second and not, with fractions of every length, sub-microsecond parts, and
// times outside the years 1000 to 9999 (before year 1, after 9999, the zero time).
func TestHuntCSVMatchIsTheRowStream(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	times := []time.Time{base, base.Add(123400 * time.Microsecond), base.Add(time.Microsecond), base.Add(999999 * time.Microsecond),
		base.Add(500 * time.Nanosecond), base.Add(time.Second + 10*time.Microsecond), base.Add(time.Second), base.Add(time.Second + 100*time.Millisecond),
		time.Date(999, 12, 31, 23, 59, 59, 5000, time.UTC), time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 3, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 750000000, time.UTC), {}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), base.In(time.FixedZone("x", 3600))}
	rng := rand.New(rand.NewSource(2))
	for range 500 {
		times = append(times, base.Add(time.Duration(rng.Int63n(int64(3*time.Second)))/time.Microsecond*time.Microsecond))
	}
	rulesOf := [][2]string{{"r1", "high"}, {"rule, \"two\"", " low"}, {"=cmd", "-1"}}
	for _, safe := range []bool{false, true} {
		var got, want bytes.Buffer
		write, end := huntWriter(&got, "csv", huntColumns(), safe)
		out := newRowStream(&want, "csv", huntColumns(), safe)
		for i, tm := range times {
			r := rulesOf[(i/3)%len(rulesOf)]
			m := rules.Match{Rule: r[0], Severity: r[1], EventTime: tm, EventID: fmt.Sprintf("id%d", i), EventName: "Get,Name", Principal: "@p",
				Account: "1", Region: "\u00a0r", SourceIP: "\t10.0.0.1", Summary: "s \"q\""}
			if err := write(&m); err != nil {
				t.Fatal(err)
			}
			var et any = m.EventTime
			if m.EventTime.IsZero() {
				et = nil
			}
			if err := out.row([]any{m.Rule, m.Severity, et, m.EventID, m.EventName, m.Principal, m.Account, m.Region, m.SourceIP, m.Summary}); err != nil {
				t.Fatal(err)
			}
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
		if err := out.end(); err != nil {
			t.Fatal(err)
		}
		g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		if len(g) != len(w) {
			t.Fatalf("safe %v: %d lines, the row stream %d", safe, len(g), len(w))
		}
		for i := range g {
			if g[i] != w[i] {
				t.Errorf("safe %v: line %d is\n%q\nthe row stream's\n%q", safe, i+1, g[i], w[i])
			}
		}
	}
}

// BenchmarkHuntCSV: huntCSV writing a rule's matches, most in the same second as the one before
// (what a hunt of a rule that matches most events writes).
func BenchmarkHuntCSV(b *testing.B) {
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	ms := make([]rules.Match, 4096)
	for i := range ms {
		ms[i] = rules.Match{Rule: "905d389b-b853-46d0-9d3d-dea0d3a3cd49", Severity: "low", EventTime: base.Add(time.Duration(i) * 37 * time.Millisecond),
			EventID: "8cef661e-5f8c-4478-b106-e4033b82cd92", EventName: "AssumeRole", Principal: "arn:aws:sts::183310980980:assumed-role/app/i-0123456789",
			Account: "183310980980", Region: "us-east-1", SourceIP: "185.157.254.175",
			Summary: "AssumeRole (sts.amazonaws.com) by arn:aws:sts::183310980980:assumed-role/app/i-0123456789 from 185.157.254.175"}
	}
	write, end := huntWriter(io.Discard, "csv", huntColumns(), false)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := write(&ms[i%len(ms)]); err != nil {
			b.Fatal(err)
		}
	}
	end()
}
