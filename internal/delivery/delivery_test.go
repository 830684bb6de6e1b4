package delivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/delivery"
	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
	"github.com/auditlake/auditlake/internal/objstore"
)

var completed = time.Date(2026, 5, 10, 22, 6, 30, 0, time.UTC)

// hostileRows are cells a CSV writer must keep whole: embedded JSON with quotes, commas and
// line breaks, NULL, a timestamp, a map with non-string keys, a list, numbers, non-ASCII.
func hostileRows() (columns []string, rows [][]any) {
	columns = []string{"eventjson", "eventtime", "n", "tags", "note"}
	rows = [][]any{
		{`{"eventID":"a","eventName":"Run,\"Instances\"","x":"line1\nline2"}`, completed, int64(42), map[any]any{"k": "v", 7: []any{1, "two"}}, "é ✓"},
		{nil, completed.Add(1500 * time.Millisecond), 3.25, []any{"a", nil}, "=cmd|' /C calc'!A0"},
		{"", time.Time{}, true, nil, "\r\n"},
	}
	return columns, rows
}

func readCSVGz(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatalf("%s is not CSV: %v", path, err)
	}
	return recs
}

// TestWriteLaysOutLakesDeliveryAndSignsItAsAWSDocuments writes a result locally and checks it
// with code of the test's own that follows AWS's documented steps (not delivery.Verify): the
// folder path, the CSV cells read back whole, each file's SHA-256 over its compressed bytes,
// and the RSA signature over the hashes joined by spaces with the key the fingerprint names.
func TestWriteLaysOutLakesDeliveryAndSignsItAsAWSDocuments(t *testing.T) {
	key := digesttest.NewKey(t)
	signer := delivery.NewSigner(key)
	dest := t.TempDir()
	cols, rows := hostileRows()
	loc, err := delivery.Write(context.Background(), dest, cols, rows, "0123abcd-q1", signer,
		delivery.Options{Now: completed, Account: "111122223333", Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	wantFolder := filepath.Join(dest, "AWSLogs", "111122223333", "CloudTrail-Lake", "Query", "2026", "05", "10", "0123abcd-q1") + string(filepath.Separator)
	if loc.Folder != wantFolder || len(loc.Files) != 1 || loc.SignFile != filepath.Join(wantFolder, "result_sign.json") {
		t.Fatalf("location %+v, want folder %s with result_1.csv.gz and result_sign.json", loc, wantFolder)
	}
	got := readCSVGz(t, loc.Files[0])
	want := [][]string{
		cols,
		{`{"eventID":"a","eventName":"Run,\"Instances\"","x":"line1\nline2"}`, "2026-05-10 22:06:30.000", "42", `{"7":[1,"two"],"k":"v"}`, "é ✓"},
		{"", "2026-05-10 22:06:31.500", "3.25", `["a",null]`, "=cmd|' /C calc'!A0"},
		{"", "0001-01-01 00:00:00.000", "true", "", "\r\n"},
	}
	// encoding/csv reads \r\n inside a quoted field as \n.
	want[3][4] = "\n"
	if !equalRecords(got, want) {
		t.Fatalf("cells read back:\n%q\nwant\n%q", got, want)
	}

	raw, err := os.ReadFile(loc.SignFile)
	if err != nil {
		t.Fatal(err)
	}
	var sf struct {
		Version, Region, HashAlgorithm, SignatureAlgorithm, QueryCompleteTime, HashSignature, PublicKeyFingerprint string
		Files                                                                                                      []struct{ FileHashValue, FileName string }
	}
	if err := json.Unmarshal(raw, &sf); err != nil {
		t.Fatal(err)
	}
	if sf.Version != "1.0" || sf.Region != "eu-west-1" || sf.HashAlgorithm != "SHA-256" || sf.SignatureAlgorithm != "SHA256withRSA" ||
		sf.QueryCompleteTime != "2026-05-10T22:06:30Z" || sf.PublicKeyFingerprint != integrity.Fingerprint(&key.PublicKey) {
		t.Fatalf("sign file fields: %s", raw)
	}
	var hashes []string
	for _, f := range sf.Files {
		data, err := os.ReadFile(filepath.Join(wantFolder, f.FileName))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.FileHashValue {
			t.Fatalf("%s: fileHashValue %s is not the SHA-256 of the compressed file", f.FileName, f.FileHashValue)
		}
		hashes = append(hashes, f.FileHashValue)
	}
	sig, err := hex.DecodeString(sf.HashSignature)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(strings.Join(hashes, " ")))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("hashSignature does not verify over the space-joined hashes: %v", err)
	}
	st, err := os.Stat(loc.Files[0])
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("result file mode: %v %v", st.Mode(), err)
	}
}

func equalRecords(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") || len(a[i]) != len(b[i]) {
			return false
		}
	}
	return true
}

// TestWriteSplitsLargeResultsIntoNumberedFiles: past MaxFileBytes a new result file starts, each
// with the header, every file listed in order in the sign file; an empty result is one file
// holding the header.
func TestWriteSplitsLargeResultsIntoNumberedFiles(t *testing.T) {
	signer := delivery.NewSigner(digesttest.NewKey(t))
	var rows [][]any
	for i := range 100 {
		rows = append(rows, []any{strings.Repeat("x", 50), int64(i)})
	}
	dest := t.TempDir()
	loc, err := delivery.Write(context.Background(), dest, []string{"a", "i"}, rows, "split", signer, delivery.Options{Now: completed, MaxFileBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(loc.Files) < 5 {
		t.Fatalf("100 rows of ~53 bytes at 1000 bytes a file: %d files", len(loc.Files))
	}
	n := 0
	for i, f := range loc.Files {
		if filepath.Base(f) != "result_"+itoa(i+1)+".csv.gz" {
			t.Fatalf("file %d is %s", i, f)
		}
		recs := readCSVGz(t, f)
		if recs[0][0] != "a" || recs[0][1] != "i" {
			t.Fatalf("%s has no header: %q", f, recs[0])
		}
		for _, r := range recs[1:] {
			if r[1] != itoa(n) {
				t.Fatalf("row %d is %q", n, r)
			}
			n++
		}
	}
	if n != 100 {
		t.Fatalf("%d rows read back, want 100", n)
	}
	rep, err := delivery.Verify(context.Background(), objstore.New(objstore.Options{}), loc.Folder, delivery.KeysOf(signer.KeySet()))
	if err != nil || !rep.OK() || len(rep.Files) != len(loc.Files) {
		t.Fatalf("verify: %v %+v", err, rep)
	}

	loc, err = delivery.Write(context.Background(), dest, []string{"a"}, nil, "empty", signer, delivery.Options{Now: completed})
	if err != nil {
		t.Fatal(err)
	}
	if len(loc.Files) != 1 || len(readCSVGz(t, loc.Files[0])) != 1 {
		t.Fatalf("an empty result is one file with the header: %+v", loc)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestWriteRefusesQueryIDsThatLeaveTheFolder: the query id becomes a path element; a ragged row
// is refused before anything is written.
func TestWriteRefusesQueryIDsThatLeaveTheFolder(t *testing.T) {
	signer := delivery.NewSigner(digesttest.NewKey(t))
	for _, id := range []string{"", "..", "../x", "a/b", `a\b`, "x..y", ".hidden"} {
		if _, err := delivery.Write(context.Background(), t.TempDir(), []string{"a"}, nil, id, signer, delivery.Options{}); err == nil {
			t.Errorf("query id %q accepted", id)
		}
	}
	dest := t.TempDir()
	if _, err := delivery.Write(context.Background(), dest, []string{"a", "b"}, [][]any{{"1", "2"}, {"3"}}, "ragged", signer, delivery.Options{}); err == nil || !strings.Contains(err.Error(), "row 2 has 1 values for 2 columns") {
		t.Errorf("a ragged row: %v", err)
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 0 {
		t.Errorf("a refused delivery wrote %v", entries)
	}
}

// TestVerifyFindsEveryKindOfTampering: a changed file is modified, a removed one missing, an
// added one not covered; a changed hash list, a wrong key, unsupported algorithms or a file
// name outside the folder make the signature not valid, and then no file counts as valid.
func TestVerifyFindsEveryKindOfTampering(t *testing.T) {
	key := digesttest.NewKey(t)
	signer := delivery.NewSigner(key)
	client := objstore.New(objstore.Options{})
	ctx := context.Background()
	write := func(t *testing.T) delivery.Location {
		var rows [][]any
		for i := range 60 {
			rows = append(rows, []any{strings.Repeat("y", 40), int64(i)})
		}
		loc, err := delivery.Write(ctx, t.TempDir(), []string{"a", "i"}, rows, "q", signer, delivery.Options{Now: completed, MaxFileBytes: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	status := func(rep *delivery.Report, file string) integrity.Status {
		for _, f := range rep.Files {
			if f.File == file {
				return f.Status
			}
		}
		return ""
	}
	editSign := func(t *testing.T, loc delivery.Location, edit func(*delivery.SignFile)) {
		raw, err := os.ReadFile(loc.SignFile)
		if err != nil {
			t.Fatal(err)
		}
		sf, err := delivery.ParseSignFile(raw)
		if err != nil {
			t.Fatal(err)
		}
		edit(&sf)
		raw, _ = json.Marshal(sf)
		if err := os.WriteFile(loc.SignFile, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("modified file", func(t *testing.T) {
		loc := write(t)
		data, _ := os.ReadFile(loc.Files[1])
		data[len(data)-5] ^= 1
		os.WriteFile(loc.Files[1], data, 0o644)
		rep, err := delivery.Verify(ctx, client, loc.Folder, delivery.KeysOf(signer.KeySet()))
		if err != nil || rep.OK() || status(rep, loc.Files[1]) != integrity.StatusModified || status(rep, loc.Files[0]) != integrity.StatusValid {
			t.Fatalf("%v %+v", err, rep)
		}
		if f := rep.Failed(); len(f) != 1 || !strings.Contains(f[0].Detail, "hash value in sign file is") {
			t.Fatalf("failed: %+v", f)
		}
	})
	t.Run("missing and added files", func(t *testing.T) {
		loc := write(t)
		os.Remove(loc.Files[0])
		extra := filepath.Join(loc.Folder, "result_99.csv.gz")
		data, _ := os.ReadFile(loc.Files[1])
		os.WriteFile(extra, data, 0o644)
		// The folder as the user may spell it: with a trailing separator, or "." in it.
		for _, folder := range []string{loc.Folder, loc.Folder + "." + string(filepath.Separator), strings.TrimSuffix(loc.Folder, string(filepath.Separator))} {
			rep, err := delivery.Verify(ctx, client, folder, delivery.KeysOf(signer.KeySet()))
			if err != nil || rep.OK() || status(rep, loc.Files[0]) != integrity.StatusMissing || status(rep, extra) != integrity.StatusNotCovered {
				t.Fatalf("%s: %v %+v", folder, err, rep)
			}
		}
	})
	for name, edit := range map[string]func(*delivery.SignFile){
		"hash list changed": func(s *delivery.SignFile) { s.Files[0].FileHashValue = strings.Repeat("0", 64) },
		"file dropped":      func(s *delivery.SignFile) { s.Files = s.Files[1:] },
		"signature changed": func(s *delivery.SignFile) { // its first byte, whatever it was (00 one run in 256)
			b := "00"
			if strings.HasPrefix(s.HashSignature, "00") {
				b = "ff"
			}
			s.HashSignature = b + s.HashSignature[2:]
		},
		"unknown fingerprint":  func(s *delivery.SignFile) { s.PublicKeyFingerprint = "67b9fa73676d86966b449dd677850753" },
		"other algorithm":      func(s *delivery.SignFile) { s.HashAlgorithm = "MD5" },
		"path outside folder":  func(s *delivery.SignFile) { s.Files[0].FileName = "../../../../etc/passwd" },
		"no files":             func(s *delivery.SignFile) { s.Files = nil },
		"signature not hex":    func(s *delivery.SignFile) { s.HashSignature = "zz" },
		"fingerprint is empty": func(s *delivery.SignFile) { s.PublicKeyFingerprint = "" },
	} {
		t.Run(name, func(t *testing.T) {
			loc := write(t)
			editSign(t, loc, edit)
			rep, err := delivery.Verify(ctx, client, loc.Folder, delivery.KeysOf(signer.KeySet()))
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.Signature == "valid" {
				t.Fatalf("accepted: %+v", rep)
			}
			for _, f := range rep.Files {
				if f.Status == integrity.StatusValid {
					t.Fatalf("%s counted valid under an invalid sign file", f.File)
				}
			}
		})
	}
	t.Run("another key", func(t *testing.T) {
		loc := write(t)
		other := delivery.NewSigner(digesttest.NewKey(t))
		rep, err := delivery.Verify(ctx, client, loc.Folder, delivery.KeysOf(other.KeySet()))
		if err != nil || rep.OK() || !strings.Contains(rep.Signature, "no public key with fingerprint") {
			t.Fatalf("%v %+v", err, rep)
		}
	})
	t.Run("no sign file", func(t *testing.T) {
		loc := write(t)
		os.Remove(loc.SignFile)
		if _, err := delivery.Verify(ctx, client, loc.Folder, delivery.KeysOf(signer.KeySet())); !errors.Is(err, delivery.ErrNoSignFile) {
			t.Fatalf("err %v, want ErrNoSignFile", err)
		}
	})
}

// TestDeliveryKeyIsCreatedOncePrivateAndKept: the data directory's key is created on first use
// with mode 0600, the same key afterwards; a key others can read is refused; the public PEM
// parses with integrity.ParseKeys under the signer's fingerprint.
func TestDeliveryKeyIsCreatedOncePrivateAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := delivery.LoadKey(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadKey before any key: %v", err)
	}
	a, err := delivery.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(delivery.KeyPath(dir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", st.Mode(), err)
	}
	b, err := delivery.LoadOrCreateKey(dir)
	if err != nil || b.Fingerprint() != a.Fingerprint() {
		t.Fatalf("second use: %v, fingerprint %s vs %s", err, b.Fingerprint(), a.Fingerprint())
	}
	ks, err := integrity.ParseKeys(a.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := ks.Lookup(a.Fingerprint()); !ok || k.Key.N.Cmp(a.Public().N) != 0 {
		t.Fatal("the public PEM is not filed under the signer's fingerprint")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the data directory holds temporary files: %v", entries)
	}
	if err := os.Chmod(delivery.KeyPath(dir), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.LoadOrCreateKey(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key readable by others was used: %v", err)
	}
}

// TestWriteAndVerifyOverS3: the same delivery through an S3 server (gofakes3), and the sign
// files ingest checks found under a prefix.
func TestWriteAndVerifyOverS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("results"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	client := objstore.New(objstore.Options{EndpointURL: srv.URL})
	signer := delivery.NewSigner(digesttest.NewKey(t))
	cols, rows := hostileRows()
	ctx := context.Background()
	loc, err := delivery.Write(ctx, "s3://results/audit/", cols, rows, "q-s3", signer, delivery.Options{Client: client, Now: completed})
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://results/audit/AWSLogs/123456789012/CloudTrail-Lake/Query/2026/05/10/q-s3/"; loc.Folder != want {
		t.Fatalf("folder %s, want %s", loc.Folder, want)
	}
	rep, err := delivery.Verify(ctx, client, loc.Folder, delivery.KeysOf(signer.KeySet()))
	if err != nil || !rep.OK() {
		t.Fatalf("verify over S3: %v %+v", err, rep)
	}
	sigs, err := delivery.CheckSignatures(ctx, client, []string{"s3://results/audit/"}, delivery.KeysOf(signer.KeySet()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := client.Open(ctx, loc.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	sum := sha256.Sum256(data)
	if h, why := sigs.Want(loc.Files[0]); h != hex.EncodeToString(sum[:]) || why != "" {
		t.Fatalf("Want(%s) = %q, %q", loc.Files[0], h, why)
	}
	// A result file named on its own: the sign file beside it is found.
	one, err := delivery.CheckSignatures(ctx, client, []string{loc.Files[0]}, delivery.KeysOf(signer.KeySet()))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := one.Want(loc.Files[0]); h != hex.EncodeToString(sum[:]) {
		t.Fatalf("a result file named on its own: Want = %q", h)
	}
	if h, why := sigs.Want(loc.Folder + "result_2.csv.gz"); h != "" || !strings.Contains(why, "not listed") {
		t.Fatalf("an unlisted file: %q, %q", h, why)
	}
	if h, why := sigs.Want("s3://results/elsewhere/result_1.csv.gz"); h != "" || !strings.Contains(why, "no result_sign.json") {
		t.Fatalf("a file without a sign file: %q, %q", h, why)
	}
	other := delivery.NewSigner(digesttest.NewKey(t))
	sigs, err = delivery.CheckSignatures(ctx, client, []string{"s3://results/audit/"}, delivery.KeysOf(other.KeySet()))
	if err != nil {
		t.Fatal(err)
	}
	if h, why := sigs.Want(loc.Files[0]); h != "" || !strings.Contains(why, "no public key with fingerprint") {
		t.Fatalf("a file under a sign file signed by another key: %q, %q", h, why)
	}
}

// TestOpenSSLVerifiesADeliveryAsAWSDocuments runs AWS's own command-line procedure for Lake's
// deliveries ("Validate query results with the command line": openssl rsa -RSAPublicKey_in,
// openssl dgst -sha256 -verify over the space-joined hashes) on one of auditlake's.
func TestOpenSSLVerifiesADeliveryAsAWSDocuments(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	signer := delivery.NewSigner(digesttest.NewKey(t))
	cols, rows := hostileRows()
	loc, err := delivery.Write(context.Background(), t.TempDir(), cols, rows, "q-openssl", signer, delivery.Options{Now: completed})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	path := func(n string) string { return filepath.Join(work, n) }
	if err := os.WriteFile(path("public_key_pkcs1.pem"), signer.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(loc.SignFile)
	sf, err := delivery.ParseSignFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := hex.DecodeString(sf.HashSignature)
	os.WriteFile(path("signature.bin"), sig, 0o644)
	os.WriteFile(path("hash_list_file"), sf.StringToSign(), 0o644)
	run := func(args ...string) string {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("rsa", "-RSAPublicKey_in", "-in", path("public_key_pkcs1.pem"), "-pubout", "-out", path("public_key_x509.pem"))
	if out := run("dgst", "-sha256", "-verify", path("public_key_x509.pem"), "-signature", path("signature.bin"), path("hash_list_file")); !strings.Contains(out, "Verified OK") {
		t.Fatalf("openssl: %s", out)
	}
	if out := run("dgst", "-sha256", loc.Files[0]); !strings.HasSuffix(strings.TrimSpace(out), sf.Files[0].FileHashValue) {
		t.Fatalf("openssl's SHA-256 of the result file %q is not the sign file's %s", out, sf.Files[0].FileHashValue)
	}
	os.WriteFile(path("hash_list_file"), []byte(strings.Repeat("0", 64)), 0o644)
	if out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", path("public_key_x509.pem"), "-signature", path("signature.bin"), path("hash_list_file")).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a changed hash list: %s", out)
	}
}
