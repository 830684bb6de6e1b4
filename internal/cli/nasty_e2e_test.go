package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/auditlake/auditlake/internal/cli"
)

// TestMain lets the test binary act as the auditlake command, so a test can run a real ingest
// as a child process and measure its peak memory, or kill it.
func TestMain(m *testing.M) {
	if os.Getenv("AUDITLAKE_TEST_CHILD") == "1" {
		os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is the auditlake command line run by the test binary in a new process.
func child(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AUDITLAKE_TEST_CHILD=1")
	return cmd
}

// nastyRecord is a CloudTrail record with the given eventID whose other fields are spliced in
// as raw JSON text (extra), so that the test can put any bytes there.
func nastyRecord(id, extra string) string {
	return `{"eventVersion":"1.08","eventTime":"2024-08-01T10:00:00Z","eventSource":"ec2.amazonaws.com",` +
		`"eventName":"RunInstances","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"` + id + `"` + extra + `}`
}

// gzipBomb returns a gzip file of about 10 MB that inflates to 10 GiB: a CloudTrail container
// opened and followed by blanks, which a JSON reader has to read to the end. It is made of
// identical gzip members, which every gzip reader concatenates.
func gzipBomb(t *testing.T) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	var out bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Write([]byte(`{"Records":[`))
	zw.Close()
	for i := 0; i < 10<<10; i++ {
		out.Write(member.Bytes())
	}
	return out.Bytes()
}

// TestNastyFilesGiveOneErrorEachKeepEveryGoodEventInBoundedMemory ingests, through the real
// command in a child process, the real stratus samples mixed with hostile files: each
// unreadable file is named with a clear reason, the command exits 3 (partial), every good event
// lands once, damaged-but-readable records are kept with a warning, and the process's peak
// memory stays under 1.5 GiB although the input holds a 10 GiB gzip bomb and a 100 MB record.
func TestNastyFilesGiveOneErrorEachKeepEveryGoodEventInBoundedMemory(t *testing.T) {
	src := t.TempDir()
	goodFiles, _ := filepath.Glob(testdata("stratus-red-team-detonation-logs", "*.json"))
	ids := map[string]bool{}
	var firstGood []byte
	for _, p := range goodFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var recs []struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, r := range recs {
			ids[r.EventID] = true
		}
		if firstGood == nil {
			firstGood = b
		}
		if err := os.WriteFile(filepath.Join(src, "good-"+filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) < 50 {
		t.Fatalf("only %d good events in the samples", len(ids))
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(firstGood)
	zw.Close()
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	rng := make([]byte, 64<<10)
	for i := range rng {
		rng[i] = byte(i*7919 + i>>3)
	}
	huge := nastyRecord("nasty-huge", `,"requestParameters":{"userData":"`+strings.Repeat("A", 100<<20)+`"}`)
	// Files that cannot be read (or hold no readable record), with the reason each must give.
	bad := []struct{ name, content, reason string }{
		{"truncated.json.gz", string(zb.Bytes()[:zb.Len()/2]), "unexpected EOF"},
		{"bomb.json.gz", string(gzipBomb(t)), "decompressed size limit"},
		{"huge-record.json", `{"Records":[` + huge + `]}`, "larger than"},
		{"deep.json", `{"Records":[` + nastyRecord("nasty-deep", `,"requestParameters":{"a":`+deep+`}`) + `]}`, "nesting is deeper"},
		{"binary.json", string(rng), "not JSON"},
		// A key twice: the column would hold one value and eventjson's readers the other.
		{"duplicate-keys.json", `{"Records":[` + nastyRecord("nasty-dupkeys", `,"eventName":"TerminateInstances","eventName":"StopInstances"`) + `]}`, `key "eventName" appears twice`},
	}
	// Files whose records are damaged but readable: kept, with a warning for the damage.
	kept := []struct{ name, content, id, warning string }{
		{"bad-utf8.json", `{"Records":[` + nastyRecord("nasty-utf8", `,"userAgent":"caf`+"\xe9\xff"+`"`) + `]}`, "nasty-utf8", "UTF-8"},
		{"lone-surrogate.json", `{"Records":[` + nastyRecord("nasty-surrogate", `,"userAgent":"a\ud800"`) + `]}`, "nasty-surrogate", "surrogate"},
		{"wrong-types.json", `{"Records":[` + nastyRecord("nasty-types", `,"readOnly":"perhaps","resources":"i-123","userIdentity":42`) + `]}`, "nasty-types", "readOnly"},
	}
	for _, f := range bad {
		os.WriteFile(filepath.Join(src, f.name), []byte(f.content), 0o644)
	}
	for _, f := range kept {
		os.WriteFile(filepath.Join(src, f.name), []byte(f.content), 0o644)
	}
	os.WriteFile(filepath.Join(src, "empty.json"), nil, 0o644)

	dir := t.TempDir()
	id := createStore(t, dir, "nasty")
	cmd := child("--data", dir, "ingest", "cloudtrail", "--eds", "nasty", src)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if code != cli.ExitPartial {
		t.Fatalf("exit %d (%v), want %d (partial)\nstdout:\n%s\nstderr:\n%s", code, err, cli.ExitPartial, stdout.String(), stderr.String())
	}
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // kilobytes on Linux
	t.Logf("peak RSS of the ingest: %d MiB\n%s", peak>>20, stdout.String())
	if peak > 3<<29 {
		t.Errorf("peak RSS %d MiB, want under 1.5 GiB", peak>>20)
	}
	// Problem lines are "FILE: record N (line N): [warning: ]message".
	problems := func(name string) (errs, warns []string) {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if !strings.Contains(l, string(filepath.Separator)+name+":") {
				continue
			}
			if strings.Contains(l, "): warning: ") {
				warns = append(warns, l)
			} else {
				errs = append(errs, l)
			}
		}
		return errs, warns
	}
	for _, f := range bad {
		errs, _ := problems(f.name)
		if len(errs) != 1 || !strings.Contains(errs[0], f.reason) {
			t.Errorf("%s: want one error saying %q, got %q", f.name, f.reason, errs)
		}
	}
	// An empty file holds no events and is no error; it is said plainly, once (a warning about
	// the whole file, which problems() does not tell from an error).
	if lines, _ := problems("empty.json"); len(lines) != 1 || !strings.HasSuffix(lines[0], "empty.json: warning: empty") {
		t.Errorf("an empty file is one line saying it is empty, got %q", lines)
	}
	for _, f := range kept {
		errs, warns := problems(f.name)
		if len(errs) != 0 {
			t.Errorf("%s holds a readable record but was reported as an error: %q", f.name, errs)
		}
		if f.warning != "" && !strings.Contains(strings.Join(warns, "\n"), f.warning) {
			t.Errorf("%s: no warning mentioning %q in %q", f.name, f.warning, warns)
		}
		ids[f.id] = true
	}
	rows := queryCSV(t, dir, `SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail"."`+id+`"`)
	if want := fmt.Sprint(len(ids)); rows[0][0] != want || rows[0][1] != want {
		t.Fatalf("store holds %s events (%s distinct), want the %s good and readable ones", rows[0][0], rows[0][1], want)
	}
	got := queryCSV(t, dir, `SELECT eventid, eventname FROM "aws:cloudtrail"."`+id+`" WHERE eventid LIKE 'nasty-%' ORDER BY eventid`)
	if fmt.Sprint(got) != "[[nasty-surrogate RunInstances] [nasty-types RunInstances] [nasty-utf8 RunInstances]]" {
		t.Errorf("damaged records stored as %v", got)
	}
}
