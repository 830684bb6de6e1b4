package cli_test

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"

	lakeberg "github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/iceberg/icebergtest"
)

// sourceJSON is every record of the trail files under dir, by event id, as the files hold it.
func sourceJSON(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json.gz") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		var v struct{ Records []json.RawMessage }
		if err := json.NewDecoder(zr).Decode(&v); err != nil {
			return err
		}
		for _, r := range v.Records {
			var id struct{ EventID string }
			if err := json.Unmarshal(r, &id); err != nil {
				return err
			}
			out[id.EventID] = string(r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tableJSON reads eventid, eventjson and eventjsonchecksum of every row of the table
// auditlake.tableName by iceberg-go's own scan (catalog.Load with catalog show's properties,
// the files read from where the table says: the fake S3 once published).
func tableJSON(t *testing.T, dir, tableName string) (jsons, sums map[string]string) {
	t.Helper()
	ctx := context.Background()
	tbl := icebergTable(t, dir, tableName)
	_, recs, err := tbl.Scan(table.WithSelectedFields("eventid", "eventjson", "eventjsonchecksum")).ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type strs interface {
		Value(int) string
		IsNull(int) bool
	}
	jsons, sums = map[string]string{}, map[string]string{}
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) strs {
			idx := rec.Schema().FieldIndices(name)
			if len(idx) != 1 {
				t.Fatalf("the scan has no column %s: %v", name, rec.Schema())
			}
			a, ok := rec.Column(idx[0]).(strs)
			if !ok {
				t.Fatalf("column %s is %T", name, rec.Column(idx[0]))
			}
			return a
		}
		ids, js, cs := col("eventid"), col("eventjson"), col("eventjsonchecksum")
		for i := 0; i < int(rec.NumRows()); i++ {
			jsons[ids.Value(i)] = js.Value(i)
			if !cs.IsNull(i) && cs.Value(i) != "" { // "": a hot file's, left to the reader
				sums[ids.Value(i)] = cs.Value(i)
			}
		}
		rec.Release()
	}
	return jsons, sums
}

// Issue 20 with issue 21 target 5: engines that read a published table's files directly
// (Athena, Trino, Spark; here iceberg-go's scan, from the fake S3) read every event's
// eventjson exactly as the source file holds it and its eventjsonchecksum stored — closed
// days' cold files included, those made cold (cut, checksums derived) before the store was
// published and those made cold after. Without eds publish writing them whole, the scan
// of the same (local) table reads cut JSON and no checksums.
func TestPublishedTableReadsWholeEventJSONFromColdFiles(t *testing.T) {
	s3 := icebergtest.NewS3(t, "lake")
	dir, src, src2 := t.TempDir(), t.TempDir(), t.TempDir()
	today := time.Now().UTC() // once: the two loads' days stay apart across midnight
	start := today.AddDate(0, 0, -8).Format(time.DateOnly)
	mustRun(t, 0, dir, "generate", "--out", src, "--events", "3000", "--days", "4", "--seed", "11", "--start", start)
	createStore(t, dir, "trail")
	mustRun(t, 0, dir, "catalog", "set", "sql")
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", filepath.Join(src, "AWSLogs"))
	mustRun(t, 0, dir, "eds", "compact", "trail")
	want := sourceJSON(t, src)

	check := func(step string, mustBeWhole bool) {
		t.Helper()
		jsons, sums := tableJSON(t, dir, "trail")
		if len(jsons) != len(want) {
			t.Fatalf("%s: the table has %d events, the source %d", step, len(jsons), len(want))
		}
		differ, noSum := 0, 0
		for id, js := range want {
			if jsons[id] != js {
				differ++
			}
			if sum, ok := sums[id]; !ok {
				noSum++
			} else if h := sha256.Sum256([]byte(js)); sum != hex.EncodeToString(h[:]) {
				t.Errorf("%s: event %s: eventjsonchecksum %s is not the SHA-256 of its JSON", step, id, sum)
			}
		}
		if mustBeWhole && (differ > 0 || noSum > 0) {
			t.Fatalf("%s: %d of %d events read another eventjson than the source's, %d no checksum", step, differ, len(want), noSum)
		}
		if !mustBeWhole && (differ == 0 || noSum == 0) {
			t.Fatalf("%s: the local table's cold files are not cut (%d events differ, %d without a checksum): the test proves nothing", step, differ, noSum)
		}
		// The table's metadata says which: an engine reading the local table's files learns
		// that their JSON is cut.
		wantProp := lakeberg.EventJSONWhole
		if !mustBeWhole {
			wantProp = lakeberg.EventJSONCut
		}
		if got := icebergTable(t, dir, "trail").Properties()[lakeberg.EventJSONProperty]; got != wantProp {
			t.Errorf("%s: table property %s = %q, want %q", step, lakeberg.EventJSONProperty, got, wantProp)
		}
	}
	check("before eds publish (cold files cut)", false)

	mustRun(t, 0, dir, "eds", "publish", "trail", "--to", "s3://lake/trail/", "--endpoint-url", s3.URL, "--region", "us-east-1")
	check("after eds publish", true)

	// Days closed after the publication go cold whole.
	start2 := today.AddDate(0, 0, -4).Format(time.DateOnly)
	mustRun(t, 0, dir, "generate", "--out", src2, "--events", "2000", "--days", "3", "--seed", "12", "--start", start2)
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", filepath.Join(src2, "AWSLogs"))
	mustRun(t, 0, dir, "eds", "compact", "trail")
	maps.Copy(want, sourceJSON(t, src2))
	check("after a later ingest and compaction", true)
	if n := len(s3.Stored("lake/trail/data/")); n == 0 {
		t.Fatalf("nothing was uploaded under trail/data/")
	}
}
