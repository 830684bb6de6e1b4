package ctparquet

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/auditlake/auditlake/internal/engine/enginetest"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// TestDataFilesReadAsParquetGoWritesThem holds the data-file writer (ctwrite.go) to
// parquet-go's own writer fed the same records (ctparquet_oracle_test.go), read back by two
// readers: parquet-go's, row by row in order with every repetition and definition level, and
// the engine's, value by value, with the same column types. It also checks what the two
// readers do not: each row group's statistics equal parquet-go's, and the page index points at
// the data pages and counts their rows. The records are every CloudTrail sample in testdata
// and random records that reach every nesting level with nulls, empty maps and lists, several
// row groups, values over many pages and a dictionary outgrowing its limit.
func TestDataFilesReadAsParquetGoWritesThem(t *testing.T) {
	recs := append(sampleRecords(t), randomRecords(rand.New(rand.NewPCG(7, 9)), 3*RowGroupRows+123)...)
	dir := t.TempDir()
	got, want := filepath.Join(dir, "got.parquet"), filepath.Join(dir, "want.parquet")
	if _, err := WriteRecordFile(got, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := writeRecordFilePGO(want, recs); err != nil {
		t.Fatal(err)
	}

	// parquet-go's reader: the same rows, in order.
	g, w := readRows(t, got), readRows(t, want)
	if len(g) != len(recs) || len(w) != len(recs) {
		t.Fatalf("%d and %d rows read, %d written", len(g), len(w), len(recs))
	}
	for i := range g {
		if !g[i].Equal(w[i]) {
			for k := range min(len(g[i]), len(w[i])) {
				a, b := g[i][k], w[i][k]
				if !parquet.Equal(a, b) || a.RepetitionLevel() != b.RepetitionLevel() || a.DefinitionLevel() != b.DefinitionLevel() || a.Column() != b.Column() {
					t.Fatalf("row %d, value %d differs: got %v (column %d, r %d, d %d), want %v (column %d, r %d, d %d)", i, k,
						a, a.Column(), a.RepetitionLevel(), a.DefinitionLevel(), b, b.Column(), b.RepetitionLevel(), b.DefinitionLevel())
				}
			}
			t.Fatalf("row %d differs: %d values, want %d", i, len(g[i]), len(w[i]))
		}
	}

	// The engine: the same types and values.
	ctx := context.Background()
	db := enginetest.Open(t)
	rel := func(p string) string { return "read_parquet(" + engine.Literal(p) + ")" }
	one := func(q string) string {
		var s string
		if err := db.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return s
	}
	if g, w := one("SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE SELECT * FROM "+rel(got)+")"),
		one("SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE SELECT * FROM "+rel(want)+")"); g != w {
		t.Fatalf("column types differ:\n got %s\nwant %s", g, w)
	}
	// Rows as JSON text, numbered in file order, compared as sets: every value of every row.
	rows := func(p string) string {
		return "(SELECT file_row_number, to_json(t)::VARCHAR AS j FROM read_parquet(" + engine.Literal(p) + ", file_row_number = true) t)"
	}
	if diff := one(bothWays(rows(got), rows(want))); diff != "0" {
		t.Fatalf("the engine reads %s rows differently", diff)
	}

	// Statistics per row group and column, as the engine reads them for pruning.
	stats := func(p string) string {
		return "(SELECT row_group_id, path_in_schema, num_values, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata(" + engine.Literal(p) + "))"
	}
	if diff := one(bothWays(stats(got), stats(want))); diff != "0" {
		t.Fatalf("%s column chunks have other statistics", diff)
	}

	// What the records must have exercised, or the comparison proves little.
	meta := openMeta(t, got)
	if len(meta.RowGroups) < 4 {
		t.Fatalf("%d row groups", len(meta.RowGroups))
	}
	col := func(name string) int { return ctColumns[name] }
	if n := countPages(t, got, meta, 0, col("eventjson")); n < 3 {
		t.Errorf("eventjson: %d pages in the first row group, want several", n)
	}
	if enc := meta.RowGroups[1].Columns[col("errormessage")].MetaData.Encoding; strings.Contains(fmt.Sprint(enc), "RLE_DICTIONARY") {
		t.Errorf("errormessage: encodings %v: the dictionary did not outgrow its limit", enc)
	}
	if enc := meta.RowGroups[0].Columns[col("eventname")].MetaData.Encoding; !strings.Contains(fmt.Sprint(enc), "RLE_DICTIONARY") {
		t.Errorf("eventname: encodings %v, want a dictionary", enc)
	}
}

// countPages checks the page index of every column chunk of row group rg against the pages
// themselves — each location is a data page's header, its size is the header's and the body's,
// and its row count is the distance to the next first row — and returns the data pages of
// column c.
func countPages(t *testing.T, path string, meta *format.FileMetaData, rg, c int) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	for i, group := range meta.RowGroups {
		for j, chunk := range group.Columns {
			var oi format.OffsetIndex
			decodeAt(t, data, chunk.OffsetIndexOffset, &oi)
			locs := oi.PageLocations
			if len(locs) == 0 || locs[0].Offset != chunk.MetaData.DataPageOffset || locs[0].FirstRowIndex != 0 {
				t.Fatalf("row group %d column %d: offset index %v, data pages from %d", i, j, locs, chunk.MetaData.DataPageOffset)
			}
			values := int64(0)
			for k, loc := range locs {
				var h format.PageHeader
				n := decodeAt(t, data, loc.Offset, &h)
				if !h.DataPageHeaderV2.Valid || int64(n)+int64(h.CompressedPageSize) != int64(loc.CompressedPageSize) {
					t.Fatalf("row group %d column %d page %d: header %+v (%d bytes) at %d, location %+v", i, j, k, h, n, loc.Offset, loc)
				}
				next := group.NumRows
				if k+1 < len(locs) {
					next = locs[k+1].FirstRowIndex
				}
				if int64(h.DataPageHeaderV2.V.NumRows) != next-loc.FirstRowIndex {
					t.Fatalf("row group %d column %d page %d: %d rows, the index says %d", i, j, k, h.DataPageHeaderV2.V.NumRows, next-loc.FirstRowIndex)
				}
				values += int64(h.DataPageHeaderV2.V.NumValues)
			}
			if values != chunk.MetaData.NumValues {
				t.Fatalf("row group %d column %d: %d values in pages, %d in the chunk", i, j, values, chunk.MetaData.NumValues)
			}
			if i == rg && j == c {
				pages = len(locs)
			}
		}
	}
	return pages
}

// decodeAt decodes the thrift structure at offset off of data into v and returns its size.
func decodeAt(t *testing.T, data []byte, off int64, v any) int {
	t.Helper()
	r := bytes.NewReader(data[off:])
	if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(v); err != nil {
		t.Fatalf("decoding %T at %d: %v", v, off, err)
	}
	return len(data[off:]) - r.Len()
}

func openMeta(t *testing.T, path string) *format.FileMetaData {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(binary.LittleEndian.Uint32(data[len(data)-8:]))
	var meta format.FileMetaData
	decodeAt(t, data, int64(len(data))-8-n, &meta)
	return &meta
}

func readRows(t *testing.T, path string) []parquet.Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	var out []parquet.Row
	buf := make([]parquet.Row, 100)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			out = append(out, row.Clone())
		}
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// sampleRecords are the records of every CloudTrail sample in testdata.
func sampleRecords(t *testing.T) []*cloudtrail.Record {
	t.Helper()
	var recs []*cloudtrail.Record
	err := filepath.WalkDir("../../testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz") || strings.HasSuffix(p, ".jsonl")) {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		cloudtrail.Decode(f, p, cloudtrail.DecodeOptions{}, func(r *cloudtrail.Record) error {
			recs = append(recs, r)
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 500 {
		t.Fatalf("only %d sample records", len(recs))
	}
	return recs
}

// randomRecords are n records whose every field is absent, empty or set at random, with
// values from short repeated words to unique kilobytes of text.
func randomRecords(rng *rand.Rand, n int) []*cloudtrail.Record {
	words := []string{"", "a", "RunInstances", "ec2.amazonaws.com", "arn:aws:iam::111122223333:role/x", "café ✓", "日本語", "\"quoted\"", "{\"json\":[1,2]}", "tab\tnew\nline"}
	s := func(p float64) *string {
		if rng.Float64() >= p {
			return nil
		}
		v := words[rng.IntN(len(words))]
		return &v
	}
	text := func(k int) string {
		var b strings.Builder
		for b.Len() < k {
			b.WriteString(words[rng.IntN(len(words))])
			fmt.Fprintf(&b, "-%d ", rng.IntN(1000))
		}
		return b.String()
	}
	flag := func() *bool {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			v := true
			return &v
		}
		v := false
		return &v
	}
	when := func() *time.Time {
		if rng.IntN(3) == 0 {
			return nil
		}
		v := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
		return &v
	}
	mapping := func() cloudtrail.Map {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return cloudtrail.Map{}
		}
		m := make(cloudtrail.Map, 1+rng.IntN(5))
		for i := range m {
			m[i] = cloudtrail.KV{Key: words[rng.IntN(len(words))], Value: s(0.8)}
		}
		return m
	}
	recs := make([]*cloudtrail.Record, n)
	for i := range recs {
		r := &cloudtrail.Record{
			EventVersion: s(0.9), EventTime: time.Unix(1.7e9+rng.Int64N(1e7), rng.Int64N(1e9)).UTC(),
			EventSource: s(0.95), EventName: s(0.95), AWSRegion: s(0.9), SourceIPAddress: s(0.5), UserAgent: s(0.5),
			ErrorCode: s(0.2), RequestParameters: mapping(), ResponseElements: mapping(), AdditionalEventData: mapping(),
			RequestID: s(0.5), EventID: fmt.Sprintf("%08x-%d", rng.Uint32(), i), ReadOnly: flag(),
			EventType: s(0.9), APIVersion: s(0.1), ManagementEvent: flag(), RecipientAccountID: s(0.9),
			SharedEventID: s(0.1), Annotation: s(0.05), VPCEndpointID: s(0.1), VPCEndpointAccountID: s(0.1),
			ServiceEventDetails: mapping(), Addendum: mapping(), EdgeDeviceDetails: mapping(), InsightDetails: mapping(),
			EventCategory: s(0.9), SessionCredentialFromConsole: s(0.3),

			EventJSON: text(1000 + rng.IntN(3000)), EventJSONChecksum: fmt.Sprintf("%064x", rng.Uint64()),
		}
		if rng.IntN(2) == 0 {
			// Unique messages of about 300 bytes: more than a dictionary's megabyte in a row group.
			m := text(300)
			r.ErrorMessage = &m
		}
		if rng.IntN(5) > 0 {
			u := &cloudtrail.UserIdentity{Type: s(0.9), PrincipalID: s(0.7), ARN: s(0.7), AccountID: s(0.7), AccessKeyID: s(0.5),
				UserName: s(0.3), InvokedBy: s(0.2), IdentityProvider: s(0.1), CredentialID: s(0.1)}
			if rng.IntN(3) > 0 {
				sc := &cloudtrail.SessionContext{SourceIdentity: s(0.2), EC2RoleDelivery: s(0.2), EC2IssuedInVPC: s(0.2)}
				if rng.IntN(3) > 0 {
					sc.Attributes = &cloudtrail.SessionAttributes{CreationDate: when(), MFAAuthenticated: s(0.7)}
				}
				if rng.IntN(3) > 0 {
					sc.SessionIssuer = &cloudtrail.SessionIssuer{Type: s(0.8), PrincipalID: s(0.8), ARN: s(0.8), AccountID: s(0.8), UserName: s(0.8)}
				}
				if rng.IntN(3) == 0 {
					sc.WebIDFederationData = &cloudtrail.WebIDFederationData{FederatedProvider: s(0.7), Attributes: mapping()}
				}
				u.SessionContext = sc
			}
			if rng.IntN(4) == 0 {
				u.OnBehalfOf = &cloudtrail.OnBehalfOf{UserID: s(0.7), IdentityStoreARN: s(0.7)}
			}
			if rng.IntN(4) == 0 {
				u.InScopeOf = &cloudtrail.InScopeOf{SourceARN: s(0.7), SourceAccount: s(0.7), IssuerType: s(0.7), CredentialsIssuedTo: s(0.7)}
			}
			r.UserIdentity = u
		}
		switch rng.IntN(3) {
		case 1:
			r.Resources = []cloudtrail.Resource{}
		case 2:
			r.Resources = make([]cloudtrail.Resource, 1+rng.IntN(3))
			for k := range r.Resources {
				r.Resources[k] = cloudtrail.Resource{AccountID: s(0.7), Type: s(0.7), ARN: s(0.7), ARNPrefix: s(0.3)}
			}
		}
		if rng.IntN(2) == 0 {
			r.TLSDetails = &cloudtrail.TLSDetails{TLSVersion: s(0.8), CipherSuite: s(0.8), ClientProvidedHostHeader: s(0.8), KeyExchange: s(0.3)}
		}
		recs[i] = r
	}
	return recs
}

// TestRowGroupsEndByBytesAsWellAsRows: a file of huge records (20 MB of JSON each, 40 MB by
// MemSize) is written in row groups of at most RowGroupBytes of them — two records each, not
// one row group of everything, whose pages and columns would all be in memory at once — and
// reads back whole; ordinary records still fill row groups of RowGroupRows.
func TestRowGroupsEndByBytesAsWellAsRows(t *testing.T) {
	big := strings.Repeat("x", 20<<20)
	var recs []*cloudtrail.Record
	for i := range 5 {
		text := `{"eventVersion":"1.08","eventTime":"2026-05-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","eventID":"big-` +
			fmt.Sprint(i) + `","requestParameters":{"policy":"` + big + `"}}`
		cloudtrail.Decode(strings.NewReader(text), "big.json", cloudtrail.DecodeOptions{MaxRecordBytes: 32 << 20}, func(r *cloudtrail.Record) error {
			recs = append(recs, r)
			return nil
		})
	}
	if len(recs) != 5 {
		t.Fatalf("%d records decoded, want 5", len(recs))
	}
	path := filepath.Join(t.TempDir(), "big.parquet")
	if _, err := WriteRecordFile(path, recs); err != nil {
		t.Fatal(err)
	}
	var rows []int64
	for _, rg := range openMeta(t, path).RowGroups {
		rows = append(rows, rg.NumRows)
	}
	if fmt.Sprint(rows) != "[2 2 1]" {
		t.Errorf("row groups of %v rows, want [2 2 1]", rows)
	}
	got := readRows(t, path)
	if len(got) != 5 {
		t.Fatalf("%d rows read, want 5", len(got))
	}
	for i, row := range got {
		found := false
		for _, v := range row {
			found = found || (v.Kind() == parquet.ByteArray && len(v.ByteArray()) == len(recs[i].EventJSON) && string(v.ByteArray()) == recs[i].EventJSON)
		}
		if !found {
			t.Errorf("row %d does not hold its record's JSON", i)
		}
	}

	bounds, byBytes := rowGroups(randomRecords(rand.New(rand.NewPCG(1, 2)), 2*RowGroupRows+5))
	if byBytes || fmt.Sprint(bounds) != fmt.Sprint([]int{0, RowGroupRows, 2 * RowGroupRows, 2*RowGroupRows + 5}) {
		t.Errorf("ordinary records: row groups at %v (by bytes %v), want every %d rows", bounds, byBytes, RowGroupRows)
	}
}

// bothWays is a query of how many rows the relations a and b differ by, counted with
// duplicates, each way (EXCEPT ALL both ways): "0" when they hold the same rows.
func bothWays(a, b string) string {
	return "SELECT count(*)::VARCHAR FROM ((" + a + " EXCEPT ALL " + b + ") UNION ALL (" + b + " EXCEPT ALL " + a + "))"
}
