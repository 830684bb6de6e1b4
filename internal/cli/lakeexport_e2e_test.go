package cli_test

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
)

// lakeSamples are the real samples the Lake export tests use: Stratus Red Team's detonation
// logs (trail files) and plaso's lookup-events lines.
func lakeSamples() []string {
	return []string{testdata("stratus-red-team-detonation-logs"), testdata("plaso-cloudtrail-lookupevents")}
}

// lakeExport is a CloudTrail Lake query result delivery built by the test the way Lake lays it
// out (reference/aws-formats.md §2.4; AWS's "CloudTrail sign file structure"), with code of its
// own rather than auditlake's delivery package: Root/<Prefix>AWSLogs/<account>/CloudTrail-Lake/
// Query/<yyyy>/<mm>/<dd>/<query id>/result_N.csv.gz and result_sign.json, the sign file listing
// the SHA-256 of each compressed file, signed RSASSA-PKCS1-v1_5/SHA-256 over the hashes joined
// by spaces.
type lakeExport struct {
	Root, Folder string // Folder: relative to Root, with a trailing slash
	Files        map[string][]byte
	Key          *rsa.PrivateKey
}

// buildLakeExport lays out rows (header first) as Lake delivers the result of one query,
// split into files of at most per rows each; the columns of file 2 come in another order
// (a later query's layout, the ingest must not care).
func buildLakeExport(t *testing.T, prefix, queryID string, header []string, rows [][]string, per int, key *rsa.PrivateKey) *lakeExport {
	t.Helper()
	ex := &lakeExport{Root: t.TempDir(), Folder: prefix + "AWSLogs/111122223333/CloudTrail-Lake/Query/2026/05/10/" + queryID + "/",
		Files: map[string][]byte{}, Key: key}
	var hashes []string
	type signed struct {
		FileHashValue string `json:"fileHashValue"`
		FileName      string `json:"fileName"`
	}
	var files []signed
	for n := 0; n*per < len(rows) || n == 0; n++ {
		part := rows[n*per : min(len(rows), (n+1)*per)]
		h := header
		if n == 1 { // reversed columns
			h = reversed(header)
			var rev [][]string
			for _, r := range part {
				rev = append(rev, reversed(r))
			}
			part = rev
		}
		name := fmt.Sprintf("result_%d.csv.gz", n+1)
		data := gzipCSV(t, append([][]string{h}, part...))
		ex.write(t, name, data)
		sum := sha256.Sum256(data)
		hashes = append(hashes, hex.EncodeToString(sum[:]))
		files = append(files, signed{hashes[n], name})
	}
	digest := sha256.Sum256([]byte(strings.Join(hashes, " ")))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	fp := md5hex(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	signFile, _ := json.MarshalIndent(map[string]any{
		"version": "1.0", "region": "us-east-1", "files": files, "hashAlgorithm": "SHA-256",
		"signatureAlgorithm": "SHA256withRSA", "queryCompleteTime": "2026-05-10T22:06:30Z",
		"hashSignature": hex.EncodeToString(sig), "publicKeyFingerprint": fp,
	}, "", "  ")
	ex.write(t, "result_sign.json", signFile)
	return ex
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func (ex *lakeExport) write(t *testing.T, name string, data []byte) {
	t.Helper()
	p := filepath.Join(ex.Root, filepath.FromSlash(ex.Folder), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ex.Files[name] = data
}

// Path is the local path of a file of the delivery.
func (ex *lakeExport) Path(name string) string {
	return filepath.Join(ex.Root, filepath.FromSlash(ex.Folder), name)
}

func gzipCSV(t *testing.T, rows [][]string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := csv.NewWriter(&b).WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return digesttest.Gzip(t, b.Bytes())
}

// md5hex is the fingerprint rule of CloudTrail's published key (integrity.Fingerprint), written
// out: the hex MD5 of the PKCS #1 DER public key.
func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// lakeRows runs Lake's migration query, SELECT eventjson, eventtime, over a store and returns
// its rows as Lake's CSV shows them (eventtime as "yyyy-mm-dd hh:mm:ss.sss").
func lakeRows(t *testing.T, dir, storeID string) [][]string {
	t.Helper()
	out := mustRun(t, 0, dir, "query", "--format", "json", `SELECT eventjson, eventtime FROM "aws:cloudtrail"."`+storeID+`" ORDER BY eventtime, eventid`)
	var rows []struct {
		EventJSON string    `json:"eventjson"`
		EventTime time.Time `json:"eventtime"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var recs [][]string
	for _, r := range rows {
		recs = append(recs, []string{r.EventJSON, r.EventTime.UTC().Format("2006-01-02 15:04:05.000")})
	}
	return recs
}

// eventSums are a store's events as (eventid, eventjsonchecksum), sorted, and a checksum over
// all of them.
func eventSums(t *testing.T, dir, store string) (ids []string, sum string) {
	t.Helper()
	rows := queryCSV(t, dir, `SELECT eventid, eventjsonchecksum FROM "aws:cloudtrail"."`+store+`" ORDER BY 1, 2`)
	h := sha256.New()
	for _, r := range rows {
		ids = append(ids, r[0])
		h.Write([]byte(r[0] + " " + r[1] + "\n"))
	}
	return ids, hex.EncodeToString(h.Sum(nil))
}

var eventsLine = regexp.MustCompile(`(?m)^events: .*$`)

// TestLakeExportRoundTripsTheSamplesAsIngestCloudTrailDoes is the acceptance of issue 18's way
// in from Lake: the real samples ingested by 'ingest cloudtrail', queried with Lake's migration
// query (SELECT eventjson, eventtime), laid out as Lake delivers the result (three signed gzip
// CSV files, one with its columns in another order), and ingested by 'ingest lake-export
// --public-key' into a second store, give the same events — eventids and eventjson checksums —
// and a rerun adds nothing. With advanced event selectors, both ingests count the same events
// read, added and left out.
func TestLakeExportRoundTripsTheSamplesAsIngestCloudTrailDoes(t *testing.T) {
	dir := t.TempDir()
	trail := createStore(t, dir, "from-trail")
	out := mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "from-trail"}, lakeSamples()...)...)
	rows := lakeRows(t, dir, trail)
	if len(rows) < 300 {
		t.Fatalf("the samples gave %d events:\n%s", len(rows), out)
	}
	key := newRSAKey(t)
	ex := buildLakeExport(t, "cloudtrail-lake/", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", []string{"eventjson", "eventtime"}, rows, 120, key)
	pub := writePEM(t, key)

	lakeID := createStore(t, dir, "from-lake")
	out = mustRun(t, 0, dir, "ingest", "lake-export", "--eds", "from-lake", "--public-key", pub, ex.Root)
	if !strings.Contains(out, fmt.Sprintf("%d added", len(rows))) || !strings.Contains(out, "3 ingested") {
		t.Fatalf("lake-export should add all %d events from 3 files:\n%s", len(rows), out)
	}
	wantIDs, wantSum := eventSums(t, dir, trail)
	gotIDs, gotSum := eventSums(t, dir, lakeID)
	if len(gotIDs) != len(wantIDs) || gotSum != wantSum {
		t.Fatalf("lake-export holds %d events (checksum %s), ingest cloudtrail %d (%s)", len(gotIDs), gotSum, len(wantIDs), wantSum)
	}
	out = mustRun(t, 0, dir, "ingest", "lake-export", "--eds", "from-lake", "--public-key", pub, ex.Root)
	if !strings.Contains(out, "nothing new") || !strings.Contains(out, "3 skipped") {
		t.Fatalf("a rerun must skip the files read:\n%s", out)
	}

	// A result file named on its own is verified with the sign file beside it.
	createStore(t, dir, "one-file")
	out = mustRun(t, 0, dir, "ingest", "lake-export", "--eds", "one-file", "--public-key", pub, ex.Path("result_2.csv.gz"))
	if !strings.Contains(out, "1 ingested") || !strings.Contains(out, "120 added") {
		t.Fatalf("one named file:\n%s", out)
	}

	// The same with the store's advanced event selectors: the same events left out.
	sel := `[{"Name":"no reads","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["false"]}]}]`
	mustRun(t, 0, dir, "eds", "create", "sel-trail", "--advanced-event-selectors", sel)
	mustRun(t, 0, dir, "eds", "create", "sel-lake", "--advanced-event-selectors", sel)
	outTrail := mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "sel-trail"}, lakeSamples()...)...)
	outLake := mustRun(t, 0, dir, "ingest", "lake-export", "--eds", "sel-lake", ex.Root)
	lt, ll := eventsLine.FindString(outTrail), eventsLine.FindString(outLake)
	if lt == "" || lt != ll || !strings.Contains(lt, "left out by its advanced event selectors") {
		t.Fatalf("selectors: ingest cloudtrail says %q, lake-export %q", lt, ll)
	}
	_, selTrail := eventSums(t, dir, "sel-trail")
	_, selLake := eventSums(t, dir, "sel-lake")
	if selTrail != selLake {
		t.Fatal("with selectors, the two stores hold different events")
	}
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// lakeS3 serves an export's files from an S3 server (gofakes3) in bucket "exports".
func lakeS3(t *testing.T, exports ...*lakeExport) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("exports"); err != nil {
		t.Fatal(err)
	}
	for _, ex := range exports {
		names := make([]string, 0, len(ex.Files))
		for n := range ex.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			data := ex.Files[n]
			if _, err := backend.PutObject("exports", ex.Folder+n, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return srv.URL
}

// TestLakeExportFromS3RefusesATamperedFileWhole: from an S3 prefix, with --public-key, a result
// file changed after delivery (one row's event altered, re-gzipped) is refused as a whole —
// named, exit 3, none of its rows ingested — while the files the sign file still vouches for
// are; a delivery signed by another key is refused entirely.
func TestLakeExportFromS3RefusesATamperedFileWhole(t *testing.T) {
	dir := t.TempDir()
	trail := createStore(t, dir, "src")
	mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "src"}, lakeSamples()...)...)
	rows := lakeRows(t, dir, trail)
	key := newRSAKey(t)
	ex := buildLakeExport(t, "lake/", "q-tampered", []string{"eventjson", "eventtime"}, rows, 100, key)
	// Change an event in result_2.csv.gz (columns reversed there): its eventName.
	recs := append([][]string{reversed([]string{"eventjson", "eventtime"})}, nil...)
	for _, r := range rows[100:200] {
		recs = append(recs, reversed(r))
	}
	recs[5][1] = strings.Replace(recs[5][1], `"eventName":"`, `"eventName":"Forged`, 1)
	ex.Files["result_2.csv.gz"] = gzipCSV(t, recs)
	other := buildLakeExport(t, "lake/", "q-other-key", []string{"eventjson", "eventtime"}, rows[:10], 100, newRSAKey(t))
	gone := buildLakeExport(t, "lake/", "q-file-deleted", []string{"eventjson", "eventtime"}, rows[:30], 20, key)
	delete(gone.Files, "result_1.csv.gz") // deleted after delivery
	endpoint := lakeS3(t, ex, other, gone)
	pub := writePEM(t, key)

	createStore(t, dir, "dst")
	out, errOut, code := run(t, dir, "ingest", "lake-export", "--eds", "dst", "--public-key", pub, "--endpoint-url", endpoint, "s3://exports/lake/")
	if code != cli.ExitPartial {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitPartial, out, errOut)
	}
	tampered := "s3://exports/lake/" + strings.TrimPrefix(ex.Folder, "lake/") + "result_2.csv.gz"
	if !strings.Contains(errOut, tampered+": integrity: SHA-256") || !strings.Contains(errOut, "differs from the sign file's") {
		t.Fatalf("the tampered file must be named with why:\n%s", errOut)
	}
	if !strings.Contains(errOut, "q-other-key/result_1.csv.gz: integrity: no public key with fingerprint") {
		t.Fatalf("the file signed by another key must be refused:\n%s", errOut)
	}
	if !strings.Contains(errOut, "q-file-deleted/result_1.csv.gz: integrity: missing (listed in its folder's result_sign.json, but absent") {
		t.Fatalf("the deleted file must be reported:\n%s", errOut)
	}
	if !strings.Contains(out, "2 refused by the sign file check") || !strings.Contains(out, fmt.Sprintf("%d added", len(rows)-100)) {
		t.Fatalf("want the %d events of the two good files, 2 files refused by the sign file check:\n%s", len(rows)-100, out)
	}
	if strings.Contains(out, "--validate") {
		t.Fatalf("the summary names --validate, a flag ingest lake-export does not have:\n%s", out)
	}
	if n := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."dst" WHERE eventname LIKE 'Forged%'`)[0][0]; n != "0" {
		t.Fatalf("%s forged events ingested", n)
	}
	// Without --public-key nothing is verified: the forged row goes in (and says so on stderr).
	createStore(t, dir, "unchecked")
	out, errOut, code = run(t, dir, "ingest", "lake-export", "--eds", "unchecked", "--endpoint-url", endpoint, "s3://exports/lake/")
	if code != cli.ExitOK || !strings.Contains(errOut, "not verified") {
		t.Fatalf("without --public-key: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."unchecked" WHERE eventname LIKE 'Forged%'`)[0][0]; n != "1" {
		t.Fatalf("unverified ingest: %s forged events, want the 1 in the file", n)
	}
}

// TestLakeExportReportsBadRowsAndFilesAndKeepsTheRest: a row whose eventjson is not a record,
// a file without an eventjson column and a cut gzip file are errors naming the file (and the
// row); the good rows and files are ingested; exit 3, as 'ingest' exits for bad input.
func TestLakeExportReportsBadRowsAndFilesAndKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	trail := createStore(t, dir, "src")
	mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "src"}, lakeSamples()...)...)
	rows := lakeRows(t, dir, trail)[:50]
	root := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := [][]string{{"eventtime", "eventname", "eventjson"}}
	for _, r := range rows[:20] {
		good = append(good, []string{r[1], "x", r[0]})
	}
	good[7][2] = `{"hello":"world"}` // row 7: not a record
	write("result_1.csv.gz", gzipCSV(t, good))
	write("result_2.csv.gz", gzipCSV(t, [][]string{{"eventtime", "eventname"}, {"2026-01-01 00:00:00.000", "x"}}))
	var rest [][]string
	rest = append(rest, []string{"eventjson", "eventtime"})
	rest = append(rest, rows[20:]...)
	cut := gzipCSV(t, rest)
	write("result_3.csv.gz", cut[:len(cut)/2])
	createStore(t, dir, "dst")
	out, errOut, code := run(t, dir, "ingest", "lake-export", "--eds", "dst", root)
	if code != cli.ExitPartial {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitPartial, out, errOut)
	}
	for _, want := range []string{
		filepath.Join(root, "result_1.csv.gz") + ": record 7 (line 8): eventjson is not a CloudTrail record",
		filepath.Join(root, "result_2.csv.gz") + ": no eventjson column in the header row",
		filepath.Join(root, "result_3.csv.gz") + ": cut short after row",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	n := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."dst"`)[0][0]
	var got int
	fmt.Sscan(n, &got)
	if got <= 19 || got >= 49 {
		t.Fatalf("%d events kept; want result_1's 19 good rows and the rows before result_3's cut", got)
	}
	if !strings.Contains(out, "3 failed") {
		t.Fatalf("summary: %s", out)
	}
}

// TestQueryDeliverIsVerifiableAndIngestable: 'query --deliver' writes a signed delivery in
// Lake's layout (locally and to S3) that verify-query-results accepts with the data
// directory's key and with the exported public key (exit 0), refuses once a file is changed
// (exit 4, naming it), and that 'ingest lake-export' of a SELECT eventjson delivery turns into
// the same events.
func TestQueryDeliverIsVerifiableAndIngestable(t *testing.T) {
	dir := t.TempDir()
	trail := createStore(t, dir, "src")
	mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "src"}, lakeSamples()...)...)
	dest := t.TempDir()
	out := mustRun(t, 0, dir, "query", "--deliver", dest, `SELECT eventjson, eventtime, eventname FROM "aws:cloudtrail"."`+trail+`"`)
	m := regexp.MustCompile(`delivered (\d+) rows in 1 file to (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("query --deliver printed %q", out)
	}
	folder := m[2]
	if !strings.HasPrefix(folder, filepath.Join(dest, "AWSLogs", "123456789012", "CloudTrail-Lake", "Query")) {
		t.Fatalf("delivered to %s, not in Lake's layout under %s", folder, dest)
	}
	st, err := os.Stat(filepath.Join(dir, "delivery-key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("delivery key: %v %v", st, err)
	}
	out = mustRun(t, 0, dir, "verify-query-results", "--local-export-path", folder)
	if !strings.Contains(out, "Successfully validated sign and query result files") {
		t.Fatalf("verify: %s", out)
	}
	pub := filepath.Join(t.TempDir(), "auditlake.pem")
	os.WriteFile(pub, []byte(mustRun(t, 0, dir, "delivery-key", "--public")), 0o644)
	// An auditor without the data directory verifies with the exported public key.
	auditor := t.TempDir()
	mustRun(t, 0, auditor, "verify-query-results", "--s3-prefix-location", folder, "--public-key", pub)
	fp := strings.Fields(mustRun(t, 0, dir, "delivery-key"))[1]
	sign, _ := os.ReadFile(filepath.Join(folder, "result_sign.json"))
	if !strings.Contains(string(sign), `"publicKeyFingerprint": "`+fp+`"`) {
		t.Fatalf("sign file does not name the key's fingerprint %s:\n%s", fp, sign)
	}

	createStore(t, dir, "again")
	out = mustRun(t, 0, dir, "ingest", "lake-export", "--eds", "again", "--public-key", pub, folder)
	_, want := eventSums(t, dir, "src")
	_, got := eventSums(t, dir, "again")
	if got != want || !strings.Contains(out, m[1]+" added") {
		t.Fatalf("re-ingested delivery differs from its source:\n%s", out)
	}

	data, _ := os.ReadFile(filepath.Join(folder, "result_1.csv.gz"))
	data[len(data)/2] ^= 0x40
	os.WriteFile(filepath.Join(folder, "result_1.csv.gz"), data, 0o644)
	out, errOut, code := run(t, dir, "verify-query-results", "--local-export-path", folder)
	if code != cli.ExitInvalid || !strings.Contains(errOut, filepath.Join(folder, "result_1.csv.gz")+": modified") {
		t.Fatalf("tampered delivery: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := run(t, auditor, "verify-query-results", "--local-export-path", folder); code != cli.ExitUsage || !strings.Contains(errOut, "no delivery key") {
		t.Fatalf("no key at all: exit %d %s", code, errOut)
	}
	if _, _, code := run(t, dir, "verify-query-results", "--local-export-path", t.TempDir()); code != cli.ExitInvalid {
		t.Fatalf("a folder without result_sign.json: exit %d, want %d", code, cli.ExitInvalid)
	}
	// A sign file that is not one (tampered into garbage) is a delivery not valid too: exit 4.
	garbled := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbled, "result_sign.json"), []byte(`{"hashList": [tampered`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, dir, "verify-query-results", "--local-export-path", garbled); code != cli.ExitInvalid || !strings.Contains(errOut, "result_sign.json") {
		t.Fatalf("a garbage result_sign.json: exit %d, want %d naming it\n%s", code, cli.ExitInvalid, errOut)
	}
	if _, _, code := run(t, dir, "verify-query-results", "--local-export-path", folder, "--s3-bucket", "b"); code != cli.ExitUsage {
		t.Fatalf("two locations: exit %d, want usage", code)
	}

	// To S3 (gofakes3), verified there with the AWS CLI's --s3-bucket/--s3-prefix form.
	endpoint := lakeS3(t)
	out = mustRun(t, 0, dir, "query", "--deliver", "s3://exports/audit", "--endpoint-url", endpoint, `SELECT eventid FROM "aws:cloudtrail"."`+trail+`" LIMIT 5`)
	m = regexp.MustCompile(`to s3://exports/(\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[1], "audit/AWSLogs/123456789012/CloudTrail-Lake/Query/") {
		t.Fatalf("S3 delivery: %s", out)
	}
	mustRun(t, 0, dir, "verify-query-results", "--s3-bucket", "exports", "--s3-prefix", m[1], "--endpoint-url", endpoint, "--public-key", pub)
}

// TestFetchPublicKeysAsksCloudTrailAsTheAWSCLIDoes: --fetch-public-keys gets the key from
// CloudTrail's ListPublicKeys (a test server speaking its JSON 1.1 protocol, signed requests),
// asked for the sign file's queryCompleteTime to 20 days later, as the AWS CLI's
// verify-query-results asks; verify-query-results and ingest lake-export accept the delivery
// with the key it lists, and refuse it when CloudTrail lists only another key.
func TestFetchPublicKeysAsksCloudTrailAsTheAWSCLIDoes(t *testing.T) {
	key := newRSAKey(t)
	listed := &key.PublicKey
	type call struct {
		target, auth string
		start, end   float64
	}
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ StartTime, EndTime float64 }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		calls = append(calls, call{r.Header.Get("X-Amz-Target"), r.Header.Get("Authorization"), in.StartTime, in.EndTime})
		der := x509.MarshalPKCS1PublicKey(listed)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"PublicKeyList": []map[string]any{{
			"Value": der, "Fingerprint": md5hex(der),
			"ValidityStartTime": 1.7e9, "ValidityEndTime": 1.9e9,
		}}})
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	dir := t.TempDir()
	trail := createStore(t, dir, "src")
	mustRun(t, 0, dir, append([]string{"ingest", "cloudtrail", "--eds", "src"}, lakeSamples()...)...)
	rows := lakeRows(t, dir, trail)
	ex := buildLakeExport(t, "", "q-fetch", []string{"eventjson", "eventtime"}, rows, 1000, key)
	fetch := []string{"--fetch-public-keys", "--region", "eu-west-1", "--cloudtrail-endpoint-url", srv.URL}

	out := mustRun(t, 0, dir, append([]string{"verify-query-results", "--local-export-path", ex.Path("")}, fetch...)...)
	if !strings.Contains(out, "Successfully validated") {
		t.Fatalf("verify: %s", out)
	}
	completed := float64(time.Date(2026, 5, 10, 22, 6, 30, 0, time.UTC).Unix())
	if len(calls) != 1 || calls[0].target != "CloudTrail_20131101.ListPublicKeys" || calls[0].start != completed ||
		calls[0].end != completed+20*24*3600 || !strings.Contains(calls[0].auth, "/eu-west-1/cloudtrail/aws4_request") {
		t.Fatalf("ListPublicKeys calls: %+v", calls)
	}
	createStore(t, dir, "dst")
	out = mustRun(t, 0, dir, append([]string{"ingest", "lake-export", "--eds", "dst", ex.Root}, fetch...)...)
	if !strings.Contains(out, fmt.Sprintf("%d added", len(rows))) {
		t.Fatalf("ingest with fetched keys:\n%s", out)
	}

	listed = &newRSAKey(t).PublicKey // CloudTrail no longer lists the key that signed it
	out, errOut, code := run(t, dir, append([]string{"verify-query-results", "--local-export-path", ex.Path("")}, fetch...)...)
	if code != cli.ExitInvalid || !strings.Contains(errOut, "no public key with fingerprint") {
		t.Fatalf("another key listed: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, _, code := run(t, dir, "verify-query-results", "--local-export-path", ex.Path(""), "--fetch-public-keys", "--public-key", "x.pem"); code != cli.ExitUsage {
		t.Fatalf("--public-key with --fetch-public-keys: exit %d, want usage", code)
	}
}
