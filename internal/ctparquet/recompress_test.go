package ctparquet

import (
	"context"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
)

// Issue 21 target 5: a closed day's file rewritten cold (pages at ColdLevel, eventjsonchecksum
// not stored) reads the same as the file it came from through DataFilesSQL — every column of
// every row, the checksum included — alone and mixed with files that store the checksum; the
// file itself holds only nulls in that column, says so in its metadata, and is smaller; its
// Bloom filters still find an id. Samples: every CloudTrail sample in testdata, plus the
// generated rows of the writer's own tests (whose checksums are not derivable: those files
// keep the column).
func TestRecompressedFileReadsTheSameWithTheChecksumDerived(t *testing.T) {
	dir := t.TempDir()
	hot, cold := filepath.Join(dir, "hot.parquet"), filepath.Join(dir, "cold.parquet")
	recs := sampleRecords(t)
	if _, err := WriteRecordFile(hot, recs); err != nil {
		t.Fatal(err)
	}
	rows, err := Recompress(cold, hot, ColdLevel, true)
	if err != nil || rows != int64(len(recs)) {
		t.Fatalf("Recompress: %d rows, %v; want %d", rows, err, len(recs))
	}
	db := enginetest.Open(t)
	count, raw := counter(t, db), rawFile
	both := engine.ListLiteral([]string{hot, cold})
	if n := count("SELECT count(*) FROM " + raw(cold) + " WHERE eventjsonchecksum IS NOT NULL"); n != 0 {
		t.Errorf("the cold file stores %d checksums", n)
	}
	// Row for row, every column (the files are in the same order; EXCEPT ALL both ways).
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT * FROM " + raw(hot) + " EXCEPT ALL SELECT * FROM " + DataFilesSQL(engine.ListLiteral([]string{cold})) + ")",
		"SELECT count(*) FROM (SELECT * FROM " + DataFilesSQL(engine.ListLiteral([]string{cold})) + " EXCEPT ALL SELECT * FROM " + raw(hot) + ")",
		// Old and new files in one relation read as the old one twice.
		"SELECT count(*) FROM (SELECT * FROM " + DataFilesSQL(both) + " EXCEPT ALL (SELECT * FROM " + raw(hot) + " UNION ALL SELECT * FROM " + raw(hot) + "))",
	} {
		if n := count(q); n != 0 {
			t.Errorf("%d rows differ: %s", n, q)
		}
	}
	if n := count("SELECT count(*) FROM " + DataFilesSQL(both)); n != 2*int64(len(recs)) {
		t.Errorf("%d rows through DataFilesSQL, want %d", n, 2*len(recs))
	}
	if n := count("SELECT count(*) FROM parquet_kv_metadata(" + engine.Literal(cold) + ") WHERE decode(key) = " + engine.Literal(DerivedChecksumKey)); n != 1 {
		t.Errorf("the cold file has %d %s metadata entries", n, DerivedChecksumKey)
	}
	hs, _ := os.Stat(hot)
	cs, _ := os.Stat(cold)
	if cs.Size() >= hs.Size() {
		t.Errorf("the cold file is %d bytes, the hot one %d", cs.Size(), hs.Size())
	}
	// The Bloom filters came along: the engine finds a sample's id, and skips on another.
	id := recs[len(recs)/2].EventID
	if n := count("SELECT count(*) FROM " + raw(cold) + " WHERE eventid = " + engine.Literal(id)); n < 1 {
		t.Errorf("eventid %s not found in the cold file", id)
	}
	hotRead, _, err := RowGroupsToRead(hot, "eventid", id)
	if err != nil {
		t.Fatal(err)
	}
	coldRead, _, err := RowGroupsToRead(cold, "eventid", id)
	if err != nil || len(coldRead) == 0 || !slices.Equal(coldRead, hotRead) {
		t.Errorf("the Bloom filters of the cold file say eventid %s is in row groups %v (%v), of the hot file %v", id, coldRead, err, hotRead)
	}

	// Checksums that are not the SHA-256 of their eventjson are kept where they are.
	gen := filepath.Join(dir, "gen.parquet")
	if _, err := WriteRecordFile(gen, randomRecords(rand.New(rand.NewPCG(7, 9)), 500)); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "kept.parquet")
	if _, err := Recompress(kept, gen, ColdLevel, false); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT count(*) FROM (SELECT * FROM " + raw(gen) + " EXCEPT ALL SELECT * FROM " + raw(kept) + ")"); n != 0 {
		t.Errorf("recompressed without deriving: %d rows differ", n)
	}
	if n := count("SELECT count(*) FROM " + raw(kept) + " WHERE eventjsonchecksum IS NULL"); n != 0 {
		t.Errorf("recompressed without deriving: %d checksums lost", n)
	}
}

// A damaged file is not rewritten: Recompress says which page is wrong and leaves no file.
func TestRecompressRefusesADamagedFile(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.parquet"), filepath.Join(dir, "dst.parquet")
	if _, err := WriteRecordFile(src, sampleRecords(t)); err != nil {
		t.Fatal(err)
	}
	f, err := readParquetFile(src)
	if err != nil {
		t.Fatal(err)
	}
	md := f.meta.RowGroups[0].Columns[3].MetaData
	at := md.DataPageOffset
	if md.DictionaryPageOffset > 0 {
		at = md.DictionaryPageOffset
	}
	data := slices.Clone(f.data)
	for i := range 8 {
		data[at+int64(i)] = 0xff
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Recompress(dst, src, ColdLevel, true); err == nil {
		t.Fatal("a file with a damaged page header was recompressed")
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("the failed rewrite left %s (%v)", dst, err)
	}
}

// counter returns a function that runs a query of one count on db.
func counter(t *testing.T, db *engine.DB) func(q string) int64 {
	return func(q string) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
}

// rawFile is the relation of one Parquet file as it is stored.
func rawFile(p string) string { return "read_parquet(" + engine.Literal(p) + ")" }
