// Package delivery writes and verifies query results in the layout CloudTrail Lake delivers them
// to S3 (StartQuery's DeliveryS3Uri), so that results auditlake hands to an auditor can be
// verified later, by auditlake or by the same steps as `aws cloudtrail verify-query-results`, and
// so that what Lake delivered can be checked before it is ingested.
//
// A delivery of query QUERYID to DEST (s3://bucket/prefix or a local directory) is the folder
//
//	DEST/AWSLogs/<account>/CloudTrail-Lake/Query/<yyyy>/<mm>/<dd>/<QUERYID>/
//
// holding result_1.csv.gz … result_N.csv.gz (gzip-compressed CSV, each with a header row of the
// column names; a new file is started every Options.MaxFileBytes of CSV) and result_sign.json:
//
//	{"version":"1.0","region":"us-east-1",
//	 "files":[{"fileHashValue":"<hex SHA-256 of result_1.csv.gz as stored>","fileName":"result_1.csv.gz"}],
//	 "hashAlgorithm":"SHA-256","signatureAlgorithm":"SHA256withRSA",
//	 "queryCompleteTime":"2026-05-10T22:06:30Z","hashSignature":"<hex>","publicKeyFingerprint":"<hex>"}
//
// The signature is RSASSA-PKCS1-v1_5 with SHA-256 over the files' hash values joined by single
// spaces (AWS's documented algorithm, reference/aws-formats.md §2.4); the hashes are of the
// compressed files. The key's fingerprint is integrity.Fingerprint (the hex MD5 of its PKCS #1
// DER form, as CloudTrail's published key shows).
//
// Write is the one writer, for `auditlake query --deliver` and for the CloudTrail Lake API's
// StartQuery with DeliveryS3Uri:
//
//	signer, err := delivery.LoadOrCreateKey(dataDir) // the server's own key, created on first use
//	loc, err := delivery.Write(ctx, "s3://bucket/prefix", columns, rows, queryID, signer,
//		delivery.Options{Client: client})
//	// loc.Folder is the delivery's folder, loc.Files its result files, loc.SignFile the sign file.
//
// Verify checks one delivered folder (every listed file's hash, the signature, files nobody
// listed); CheckSignatures checks the sign files under some sources before `ingest lake-export` reads
// their result files.
package delivery

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/objstore"
)

// SignFileName is the name of a delivery's sign file.
const SignFileName = "result_sign.json"

// The algorithms a sign file names; Verify accepts no others.
const (
	HashAlgorithm      = "SHA-256"
	SignatureAlgorithm = "SHA256withRSA"
)

// SignFile is a delivery's result_sign.json, fields in the order CloudTrail writes them.
type SignFile struct {
	Version              string       `json:"version"`
	Region               string       `json:"region"`
	Files                []SignedFile `json:"files"`
	HashAlgorithm        string       `json:"hashAlgorithm"`
	SignatureAlgorithm   string       `json:"signatureAlgorithm"`
	QueryCompleteTime    string       `json:"queryCompleteTime"`
	HashSignature        string       `json:"hashSignature"`
	PublicKeyFingerprint string       `json:"publicKeyFingerprint"`
}

// SignedFile is one files[] entry: a result file's name in the folder and the hex SHA-256 of its
// bytes as stored (compressed).
type SignedFile struct {
	FileHashValue string `json:"fileHashValue"`
	FileName      string `json:"fileName"`
}

// StringToSign is what the signature covers: the files' hash values joined by single spaces.
func (s SignFile) StringToSign() []byte {
	hashes := make([]string, len(s.Files))
	for i, f := range s.Files {
		hashes[i] = f.FileHashValue
	}
	return []byte(strings.Join(hashes, " "))
}

// CheckSignature verifies the sign file's signature with the key of its fingerprint in keys.
// It does not read the result files (Verify does).
func (s SignFile) CheckSignature(keys integrity.KeySet) error {
	if s.HashAlgorithm != HashAlgorithm || s.SignatureAlgorithm != SignatureAlgorithm {
		return fmt.Errorf("unsupported algorithms: hashAlgorithm %q, signatureAlgorithm %q (want %s, %s)",
			s.HashAlgorithm, s.SignatureAlgorithm, HashAlgorithm, SignatureAlgorithm)
	}
	if len(s.Files) == 0 {
		return errors.New("no result file is listed in the sign file")
	}
	for _, f := range s.Files {
		if err := checkFileName(f.FileName); err != nil {
			return err
		}
	}
	k, ok := keys.Lookup(s.PublicKeyFingerprint)
	if !ok {
		return fmt.Errorf("no public key with fingerprint %q (the sign file's publicKeyFingerprint)", s.PublicKeyFingerprint)
	}
	if err := integrity.VerifySignature(k.Key, s.StringToSign(), s.HashSignature); err != nil {
		return fmt.Errorf("invalid signature in sign file: %w", err)
	}
	return nil
}

// checkFileName refuses a files[] name that is not a plain file name in the folder: a sign file
// may not send a reader elsewhere ("../x", "/etc/passwd", "a/b").
func checkFileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("sign file lists %q, which is not a file name in its folder", name)
	}
	return nil
}

// ParseSignFile reads a result_sign.json.
func ParseSignFile(data []byte) (SignFile, error) {
	var s SignFile
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("parse sign file: %w", err)
	}
	return s, nil
}

// Signer signs deliveries with an RSA key.
type Signer struct {
	key         *rsa.PrivateKey
	fingerprint string
}

// NewSigner returns a signer for key.
func NewSigner(key *rsa.PrivateKey) *Signer {
	return &Signer{key: key, fingerprint: integrity.Fingerprint(&key.PublicKey)}
}

// Fingerprint is the public key's fingerprint, as sign files name it.
func (s *Signer) Fingerprint() string { return s.fingerprint }

// Public is the public key.
func (s *Signer) Public() *rsa.PublicKey { return &s.key.PublicKey }

// PublicKeyPEM is the public key as a PEM "RSA PUBLIC KEY" block (PKCS #1, the form CloudTrail's
// ListPublicKeys returns), which --public-key and integrity.ParseKeys read.
func (s *Signer) PublicKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&s.key.PublicKey)})
}

// KeySet is a key set holding the signer's public key, for verifying its own deliveries.
func (s *Signer) KeySet() integrity.KeySet {
	var ks integrity.KeySet
	ks.Add(integrity.PublicKey{Fingerprint: s.fingerprint, Key: &s.key.PublicKey})
	return ks
}

// sign returns the hex signature of msg.
func (s *Signer) sign(msg []byte) (string, error) {
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign delivery: %w", err)
	}
	return hex.EncodeToString(sig), nil
}

// KeyFile is the name of the delivery key in the data directory.
const KeyFile = "delivery-key.pem"

// LoadOrCreateKey returns the signer of the data directory's delivery key
// (<dataDir>/delivery-key.pem, a PKCS #8 RSA private key, mode 0600), creating a 2048-bit key (the size CloudTrail's keys have) on
// first use. Two processes creating it at once end up with the same key: the file is linked into
// place only if absent. A key file readable by group or others is refused, as ssh refuses one.
func LoadOrCreateKey(dataDir string) (*Signer, error) {
	path := KeyPath(dataDir)
	if s, err := loadKey(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %q: %w", dataDir, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate delivery key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode delivery key: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, ".delivery-key-*")
	if err != nil {
		return nil, fmt.Errorf("write delivery key: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		err = pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write delivery key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("write delivery key %q: %w", path, err)
	}
	if d, err := os.Open(dataDir); err == nil {
		d.Sync()
		d.Close()
	}
	return loadKey(path) // ours, or the one another process linked first
}

// KeyPath is where the data directory's delivery key is kept.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, KeyFile) }

// LoadKey returns the signer of the data directory's delivery key; an error wrapping
// os.ErrNotExist when there is none yet.
func LoadKey(dataDir string) (*Signer, error) { return loadKey(KeyPath(dataDir)) }

func loadKey(path string) (*Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("delivery key %q is readable by others (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read delivery key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("delivery key %q is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("delivery key %q: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("delivery key %q is %T, not RSA", path, k)
	}
	return NewSigner(rk), nil
}

// Options are the less common parameters of Write.
type Options struct {
	// Client writes the files; nil means objstore.New with the SDK's defaults.
	Client *objstore.Client
	// Account is the account in the folder's path (AWSLogs/<account>/…); empty means
	// DefaultAccount. Region is the sign file's region; empty means "us-east-1".
	Account, Region string
	// Now is the query's completion time (the folder's date, queryCompleteTime); zero means now.
	Now time.Time
	// MaxFileBytes starts a new result file after this many bytes of CSV; 0 means
	// DefaultMaxFileBytes.
	MaxFileBytes int64
}

// DefaultAccount is the account named in a delivery's path when Options.Account is empty: the
// placeholder account of AWS's documentation, which auditlake's channels use too.
const DefaultAccount = "123456789012"

// DefaultMaxFileBytes is how much CSV one result file holds before the next is started.
const DefaultMaxFileBytes = 256 << 20

// Location is where a delivery was written: URIs as the client names them.
type Location struct {
	// Folder is the delivery's folder, ending in a separator, to hand to verify-query-results.
	Folder   string
	Files    []string
	SignFile string
	Rows     int
}

var queryIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
var accountRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Write delivers a query's result to dest (s3://bucket/prefix or a local directory) in Lake's
// layout (see the package documentation): result files first, the signed result_sign.json last,
// so a sign file is only ever beside complete result files. Cells are written as Lake's CSV
// shows them: NULL as an empty cell, timestamps as "2006-01-02 15:04:05.000" (UTC), maps, rows
// and arrays as JSON, everything else as its text. A result with no rows is one file holding the
// header. A query id that is not a plain name (letters, digits, . _ -), or a row with another
// number of values than columns, is refused before anything is written.
func Write(ctx context.Context, dest string, columns []string, rows [][]any, queryID string, signer *Signer, opts Options) (Location, error) {
	if !queryIDRE.MatchString(queryID) || strings.Contains(queryID, "..") {
		return Location{}, fmt.Errorf("deliver query results: query id %q is not a plain name", queryID)
	}
	if signer == nil {
		return Location{}, errors.New("deliver query results: no signing key")
	}
	if opts.Client == nil {
		opts.Client = objstore.New(objstore.Options{})
	}
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	if !accountRE.MatchString(opts.Account) {
		return Location{}, fmt.Errorf("deliver query results: account %q is not a plain name", opts.Account)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	now := opts.Now.UTC()
	if dest == "" {
		return Location{}, errors.New("deliver query results: no destination")
	}
	if objstore.IsS3(dest) {
		if _, _, err := objstore.SplitS3(dest); err != nil {
			return Location{}, fmt.Errorf("deliver query results: %w", err)
		}
	}
	folder := join(dest, "AWSLogs", opts.Account, "CloudTrail-Lake", "Query",
		fmt.Sprintf("%04d", now.Year()), fmt.Sprintf("%02d", int(now.Month())), fmt.Sprintf("%02d", now.Day()), queryID)
	loc := Location{Folder: folder + sep(dest), SignFile: join(folder, SignFileName), Rows: len(rows)}
	sf := SignFile{Version: "1.0", Region: opts.Region, HashAlgorithm: HashAlgorithm, SignatureAlgorithm: SignatureAlgorithm,
		QueryCompleteTime: now.Format(time.RFC3339), PublicKeyFingerprint: signer.Fingerprint()}

	var fw *fileWriter
	flush := func() error {
		data, err := fw.close()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("result_%d.csv.gz", len(sf.Files)+1)
		uri := join(folder, name)
		if err := opts.Client.Put(ctx, uri, data); err != nil {
			return fmt.Errorf("deliver query results: %w", err)
		}
		sum := sha256.Sum256(data)
		sf.Files = append(sf.Files, SignedFile{FileHashValue: hex.EncodeToString(sum[:]), FileName: name})
		loc.Files = append(loc.Files, uri)
		fw = nil
		return nil
	}
	for i, row := range rows {
		if len(row) != len(columns) {
			return Location{}, fmt.Errorf("deliver query results: row %d has %d values for %d columns", i+1, len(row), len(columns))
		}
	}
	for _, row := range rows {
		if err := ctx.Err(); err != nil {
			return Location{}, err
		}
		if fw == nil {
			if fw = newFileWriter(columns); fw.err != nil {
				return Location{}, fw.err
			}
		}
		if err := fw.row(row); err != nil {
			return Location{}, err
		}
		if fw.n >= opts.MaxFileBytes {
			if err := flush(); err != nil {
				return Location{}, err
			}
		}
	}
	if fw != nil || len(sf.Files) == 0 {
		if fw == nil {
			fw = newFileWriter(columns)
		}
		if err := flush(); err != nil {
			return Location{}, err
		}
	}
	sig, err := signer.sign(sf.StringToSign())
	if err != nil {
		return Location{}, err
	}
	sf.HashSignature = sig
	body, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return Location{}, err
	}
	if err := opts.Client.Put(ctx, loc.SignFile, append(body, '\n')); err != nil {
		return Location{}, fmt.Errorf("deliver query results: %w", err)
	}
	return loc, nil
}

// sep is the separator of dest's kind of name.
func sep(dest string) string {
	if objstore.IsS3(dest) {
		return "/"
	}
	return string(filepath.Separator)
}

// join appends path parts to a local path or an S3 URI.
func join(base string, parts ...string) string {
	if objstore.IsS3(base) {
		b := strings.TrimSuffix(base, "/")
		if bucket, key, _ := objstore.SplitS3(base); key == "" || key == "/" {
			b = "s3://" + bucket
		}
		return b + "/" + strings.Join(parts, "/")
	}
	return filepath.Join(append([]string{base}, parts...)...)
}

// fileWriter is one result file being written: CSV into gzip into memory.
type fileWriter struct {
	buf bytes.Buffer
	zw  *gzip.Writer
	n   int64 // CSV bytes written, about (cells, separators)
	cw  *csv.Writer
	rec []string
	err error
}

func newFileWriter(columns []string) *fileWriter {
	fw := &fileWriter{}
	fw.zw = gzip.NewWriter(&fw.buf)
	fw.cw = csv.NewWriter(fw.zw)
	fw.err = fw.cw.Write(columns)
	return fw
}

func (fw *fileWriter) row(row []any) error {
	fw.rec = fw.rec[:0]
	for _, v := range row {
		fw.rec = append(fw.rec, Cell(v))
		fw.n += int64(len(fw.rec[len(fw.rec)-1]) + 1)
	}
	if err := fw.cw.Write(fw.rec); err != nil {
		return fmt.Errorf("write result file: %w", err)
	}
	return nil
}

func (fw *fileWriter) close() ([]byte, error) {
	fw.cw.Flush()
	if err := fw.cw.Error(); err != nil {
		return nil, fmt.Errorf("write result file: %w", err)
	}
	if err := fw.zw.Close(); err != nil {
		return nil, fmt.Errorf("write result file: %w", err)
	}
	return fw.buf.Bytes(), nil
}

// Cell renders one value as a delivered CSV cell (see Write).
func Cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case []byte:
		return string(t)
	case time.Time:
		return t.UTC().Format("2006-01-02 15:04:05.000")
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(t), 'g', -1, 32)
	case fmt.Stringer:
		if _, _, ok := MapEntries(v); !ok { // a MAP's String is the driver's debugging text
			return t.String()
		}
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		b, err := json.Marshal(jsonable(rv))
		if err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

// MapEntries returns the keys and values, in order, of a MAP as the engine's driver gives it
// (duckdb's OrderedMap: its Keys and Values have pointer receivers while rows hold the value,
// so they are reached through a pointer to a copy); ok is false for any other value.
func MapEntries(v any) (keys, values []any, ok bool) {
	type entries interface {
		Keys() []any
		Values() []any
	}
	e, ok := v.(entries)
	if rv := reflect.ValueOf(v); !ok && rv.Kind() == reflect.Struct {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		e, ok = p.Interface().(entries)
	}
	if !ok {
		return nil, nil, false
	}
	return e.Keys(), e.Values(), true
}

// jsonable turns maps with keys of any type (DuckDB's MAP) into maps with string keys, and
// timestamps into their cell text, so that encoding/json can write nested values.
func jsonable(rv reflect.Value) any {
	if !rv.IsValid() {
		return nil
	}
	if rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		return jsonable(rv.Elem())
	}
	if t, ok := rv.Interface().(time.Time); ok {
		return Cell(t)
	}
	if keys, values, ok := MapEntries(rv.Interface()); ok {
		out := make(map[string]any, len(keys))
		for i, k := range keys {
			out[fmt.Sprint(jsonable(reflect.ValueOf(k)))] = jsonable(reflect.ValueOf(values[i]))
		}
		return out
	}
	switch rv.Kind() {
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		keys := rv.MapKeys()
		for _, k := range keys {
			out[fmt.Sprint(jsonable(k))] = jsonable(rv.MapIndex(k))
		}
		return out
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return string(rv.Bytes())
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = jsonable(rv.Index(i))
		}
		return out
	}
	return rv.Interface()
}

// FileVerdict is Verify's finding about one result file. File is its URI. Status is one of
// log file integrity's words: valid; modified (its SHA-256 differs from the sign file's
// fileHashValue, or the sign file is not valid); missing (listed but absent); not-covered (a
// result file in the folder that the sign file does not list).
type FileVerdict struct {
	File   string           `json:"file"`
	Status integrity.Status `json:"status"`
	Detail string           `json:"detail,omitempty"`
}

// Report is the outcome of verifying one delivered folder.
type Report struct {
	SignFile string   `json:"sign_file"`
	Sign     SignFile `json:"-"`
	// Signature is "valid", or why the sign file cannot be trusted (then no file is valid).
	Signature string        `json:"signature"`
	Files     []FileVerdict `json:"files"`
}

// OK reports whether the signature and every file are valid.
func (r *Report) OK() bool {
	if r.Signature != string(integrity.StatusValid) {
		return false
	}
	for _, f := range r.Files {
		if f.Status != integrity.StatusValid {
			return false
		}
	}
	return true
}

// Failed lists the verdicts that are not valid.
func (r *Report) Failed() []FileVerdict {
	var out []FileVerdict
	for _, f := range r.Files {
		if f.Status != integrity.StatusValid {
			out = append(out, f)
		}
	}
	return out
}

// ErrNoSignFile is returned (wrapped) by Verify when the folder has no result_sign.json.
var ErrNoSignFile = errors.New("no " + SignFileName)

// ErrBadSignFile is returned (wrapped) by Verify when the folder's sign file is not one: the
// delivery is not valid, as when it is missing.
var ErrBadSignFile = errors.New("not a valid " + SignFileName)

// KeySource gives the public keys to verify a sign file with.
type KeySource func(ctx context.Context, sf SignFile) (integrity.KeySet, error)

// KeysOf is a KeySource that always gives keys (a --public-key file, a Signer's KeySet).
func KeysOf(keys integrity.KeySet) KeySource {
	return func(context.Context, SignFile) (integrity.KeySet, error) { return keys, nil }
}

// ListedKeys is a KeySource that asks CloudTrail, as `aws cloudtrail verify-query-results`
// does: ListPublicKeys in the client's region from the sign file's queryCompleteTime to 20 days
// after it (keys rotate; the sign file names the one by its fingerprint). Answers are kept for
// the source's life, one call per distinct queryCompleteTime.
func ListedKeys(client *objstore.Client) KeySource {
	var mu sync.Mutex
	cache := map[time.Time]integrity.KeySet{}
	return func(ctx context.Context, sf SignFile) (integrity.KeySet, error) {
		at, err := time.Parse(time.RFC3339, sf.QueryCompleteTime)
		if err != nil {
			return integrity.KeySet{}, fmt.Errorf("sign file queryCompleteTime %q: %w", sf.QueryCompleteTime, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if ks, ok := cache[at]; ok {
			return ks, nil
		}
		listed, err := client.ListPublicKeys(ctx, at, at.Add(20*24*time.Hour))
		if err != nil {
			return integrity.KeySet{}, err
		}
		var ks integrity.KeySet
		for _, k := range listed {
			if err := ks.AddDER(k.Value, k.Fingerprint, k.ValidFrom, k.ValidTo); err != nil {
				return integrity.KeySet{}, fmt.Errorf("cloudtrail list-public-keys: %w", err)
			}
		}
		cache[at] = ks
		return ks, nil
	}
}

// Verify checks the delivery in folder (a local directory or s3://bucket/prefix/ holding
// result_sign.json) as `aws cloudtrail verify-query-results` does — every listed file's SHA-256
// against its fileHashValue, and the signature over the hash list with the key of the sign
// file's fingerprint among those keySource gives — and also reports result files in the folder that the sign file
// does not list. The error is for a sign file that cannot be read or parsed, or a folder that
// cannot be listed; everything else is in the report.
func Verify(ctx context.Context, client *objstore.Client, folder string, keySource KeySource) (*Report, error) {
	folder = cleanFolder(folder)
	signURI := join(folder, SignFileName)
	sf, err := readSignFile(ctx, client, signURI)
	if err != nil {
		return nil, err
	}
	rep := &Report{SignFile: signURI, Sign: sf, Signature: string(integrity.StatusValid)}
	keys, err := keySource(ctx, sf)
	if err != nil {
		return nil, fmt.Errorf("public keys for %s: %w", signURI, err)
	}
	if err := sf.CheckSignature(keys); err != nil {
		rep.Signature = err.Error()
	}
	listed := map[string]bool{}
	for _, f := range sf.Files {
		if checkFileName(f.FileName) != nil {
			continue // CheckSignature said so
		}
		uri := join(folder, f.FileName)
		listed[uri] = true
		v := FileVerdict{File: uri, Status: integrity.StatusValid}
		sum, err := hashObject(ctx, client, uri)
		switch {
		case err != nil && objstore.IsNotExist(err):
			v.Status, v.Detail = integrity.StatusMissing, "listed in the sign file but absent"
		case err != nil:
			return nil, err
		case !strings.EqualFold(sum, f.FileHashValue):
			v.Status = integrity.StatusModified
			v.Detail = fmt.Sprintf("hash value in sign file is %s, but the file's is %s", f.FileHashValue, sum)
		}
		if v.Status == integrity.StatusValid && rep.Signature != string(integrity.StatusValid) {
			v.Status, v.Detail = integrity.StatusModified, "the sign file that lists it is not valid"
		}
		rep.Files = append(rep.Files, v)
	}
	err = client.Walk(ctx, folder+sep(folder), func(o objstore.Object) error {
		if IsResultFile(o.Key) && dir(o.URI) == folder && !listed[o.URI] {
			rep.Files = append(rep.Files, FileVerdict{File: o.URI, Status: integrity.StatusNotCovered, Detail: "a result file the sign file does not list"})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", folder, err)
	}
	sort.SliceStable(rep.Files, func(i, j int) bool { return rep.Files[i].File < rep.Files[j].File })
	return rep, nil
}

// cleanFolder names a folder as dir names the folder of the objects in it: a cleaned local
// path, or an S3 URI without its trailing slash.
func cleanFolder(folder string) string {
	if objstore.IsS3(folder) {
		return strings.TrimRight(folder, "/")
	}
	return filepath.Clean(folder)
}

// IsResultFile reports whether a key names a query result file (result_N.csv.gz, or a
// decompressed result_N.csv).
func IsResultFile(key string) bool {
	name := key[strings.LastIndexAny(key, `/\`)+1:]
	return resultRE.MatchString(name)
}

var resultRE = regexp.MustCompile(`^result_[0-9]+\.csv(\.gz)?$`)

func readSignFile(ctx context.Context, client *objstore.Client, uri string) (SignFile, error) {
	rc, err := client.Open(ctx, uri)
	if err != nil {
		if objstore.IsNotExist(err) {
			return SignFile{}, fmt.Errorf("%w at %s", ErrNoSignFile, uri)
		}
		return SignFile{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return SignFile{}, fmt.Errorf("read %q: %w", uri, err)
	}
	sf, err := ParseSignFile(data)
	if err != nil {
		return sf, fmt.Errorf("%s: %w: %w", uri, ErrBadSignFile, err)
	}
	return sf, nil
}

// hashObject returns the hex SHA-256 of an object's bytes as stored.
func hashObject(ctx context.Context, client *objstore.Client, uri string) (string, error) {
	rc, err := client.Open(ctx, uri)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("read %q: %w", uri, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Signatures is what the sign files under some sources vouch for, for ingest: the SHA-256 each
// result file must have.
type Signatures struct {
	want map[string]string // result file URI → hex SHA-256
	bad  map[string]string // folder → why its sign file is not trusted
	good map[string]bool   // folders with a valid sign file
	// missing: files a valid sign file lists that do not exist
	missing []string
}

// CheckSignatures verifies, with the keys keySource gives, the signature of every result_sign.json under sources, and
// of the one beside each CSV file found (a result file named on its own has its folder's sign
// file looked up); the result files themselves are not read (ingest hashes each as it
// reads it).
func CheckSignatures(ctx context.Context, client *objstore.Client, sources []string, keySource KeySource) (*Signatures, error) {
	s := &Signatures{want: map[string]string{}, bad: map[string]string{}, good: map[string]bool{}}
	var folders []string
	seen := map[string]bool{}
	found := map[string]bool{} // every object listed
	for _, src := range sources {
		err := client.Walk(ctx, src, func(o objstore.Object) error {
			found[o.URI] = true
			isSign := o.Key == SignFileName || strings.HasSuffix(o.Key, "/"+SignFileName)
			k := strings.ToLower(o.Key)
			isCSV := strings.HasSuffix(k, ".csv") || strings.HasSuffix(k, ".csv.gz")
			if (isSign || isCSV) && !seen[dir(o.URI)] {
				seen[dir(o.URI)] = true
				folders = append(folders, dir(o.URI))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find sign files in %q: %w", src, err)
		}
	}
	for _, folder := range folders {
		sf, err := readSignFile(ctx, client, join(folder, SignFileName))
		if errors.Is(err, ErrNoSignFile) {
			continue // Want says so for its files
		}
		var keys integrity.KeySet
		if err == nil {
			if keys, err = keySource(ctx, sf); err != nil {
				err = fmt.Errorf("public keys: %w", err) // refused this run; the next one asks again
			}
		}
		if err == nil {
			err = sf.CheckSignature(keys)
		}
		if err != nil {
			s.bad[folder] = err.Error()
			continue
		}
		s.good[folder] = true
		for _, f := range sf.Files {
			uri := join(folder, f.FileName)
			s.want[uri] = strings.ToLower(f.FileHashValue)
			if found[uri] {
				continue
			}
			// Not under the sources: absent, or only not named (one file of a folder was).
			if _, _, err := client.Stat(ctx, uri); err != nil && objstore.IsNotExist(err) {
				s.missing = append(s.missing, uri)
			} else if err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Missing lists the result files that a valid sign file lists but that do not exist: their
// events were delivered and are gone.
func (s *Signatures) Missing() []string { return s.missing }

// Want returns the SHA-256 the result file uri must have, or why it cannot be trusted at all.
func (s *Signatures) Want(uri string) (sha256Hex, reason string) {
	if h, ok := s.want[uri]; ok {
		return h, ""
	}
	d := dir(uri)
	if why, ok := s.bad[d]; ok {
		return "", why
	}
	if s.good[d] {
		return "", "not listed in its folder's " + SignFileName
	}
	return "", "no " + SignFileName + " beside it"
}

// dir is the folder of an object URI.
func dir(uri string) string {
	if objstore.IsS3(uri) {
		return uri[:strings.LastIndex(uri, "/")]
	}
	return filepath.Dir(uri)
}
