package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
)

func validateTrail(t *testing.T, key *rsa.PrivateKey) *digesttest.Trail {
	t.Helper()
	hours := [][][]byte{
		digesttest.Samples(t, "aws.defense-evasion.cloudtrail-stop.json", "aws.defense-evasion.cloudtrail-delete.json"),
		nil,
		digesttest.Samples(t, "aws.exfiltration.ec2-share-ami.json"),
	}
	return digesttest.Build(t, t.TempDir(), key, hours)
}

func writePEM(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateLogsCleanLocalTrailExitsZeroWithSummary(t *testing.T) {
	key := digesttest.NewKey(t)
	tr := validateTrail(t, key)
	code, out, errs := runCLI(t, "validate-logs", "--public-key", writePEM(t, key), tr.Source())
	if code != cli.ExitOK {
		t.Fatalf("exit %d, want 0; stderr: %s\n%s", code, errs, out)
	}
	want := "validated 3 digest files and 3 log files: 3 valid, 0 modified, 0 deleted, 0 not covered; digests: 3 valid, 0 modified, 0 invalid signature, 0 missing\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("stdout ends %q, want summary %q", out[max(0, len(out)-len(want)):], want)
	}
	for _, d := range tr.Digests {
		if !strings.Contains(out, tr.Path(d)) {
			t.Errorf("table does not list digest %s", d)
		}
	}
}

func TestValidateLogsDeletedLogExitsFourWithJSONVerdict(t *testing.T) {
	key := digesttest.NewKey(t)
	tr := validateTrail(t, key)
	tr.Remove(t, tr.Logs[0][0])
	code, out, errs := runCLI(t, "validate-logs", "--format", "jsonl", "--public-key", writePEM(t, key), tr.Source())
	if code != cli.ExitInvalid {
		t.Fatalf("exit %d, want %d; stderr: %s", code, cli.ExitInvalid, errs)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]string
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"file", "kind", "status", "detail"} {
			if _, ok := line[k]; !ok {
				t.Errorf("line %q has no %q", sc.Text(), k)
			}
		}
		got[line["file"]] = line["kind"] + " " + line["status"]
	}
	if g, want := got[tr.Path(tr.Logs[0][0])], "log deleted"; g != want {
		t.Errorf("verdict for deleted log = %q, want %q", g, want)
	}
	if len(got) != 6 {
		t.Errorf("%d verdicts, want 6 (3 digests, 3 logs): %v", len(got), got)
	}
	if !strings.Contains(errs, "1 deleted") {
		t.Errorf("stderr %q has no summary with 1 deleted", errs)
	}
}

func TestValidateLogsS3WithListPublicKeysJSON(t *testing.T) {
	key := digesttest.NewKey(t)
	tr := validateTrail(t, key)
	endpoint := tr.Serve(t)
	list, err := json.Marshal(map[string]any{"PublicKeyList": []map[string]any{{
		"Value":       base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&key.PublicKey)),
		"Fingerprint": integrity.Fingerprint(&key.PublicKey),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keyFile, list, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "validate-logs", "--public-key", keyFile, "--endpoint-url", endpoint, "s3://"+tr.Bucket+"/corp/AWSLogs/")
	if code != cli.ExitOK {
		t.Fatalf("exit %d, want 0; stderr: %s\n%s", code, errs, out)
	}
	if !strings.Contains(out, "s3://"+tr.Bucket+"/"+tr.Digests[2]) {
		t.Errorf("output does not name the newest digest by its s3 uri:\n%s", out)
	}
}

func TestValidateLogsCommandLineErrors(t *testing.T) {
	key := digesttest.NewKey(t)
	keyFile := writePEM(t, key)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"no public key is a usage error", []string{"validate-logs", t.TempDir()}, cli.ExitUsage},
		{"no source is a usage error", []string{"validate-logs", "--public-key", keyFile}, cli.ExitUsage},
		{"bad format is a usage error", []string{"validate-logs", "--public-key", keyFile, "--format", "xml", t.TempDir()}, cli.ExitUsage},
		{"to before from is a usage error", []string{"validate-logs", "--public-key", keyFile, "--from", "2026-02-01", "--to", "2026-01-01", t.TempDir()}, cli.ExitUsage},
		{"missing source fails", []string{"validate-logs", "--public-key", keyFile, filepath.Join(t.TempDir(), "absent")}, cli.ExitFailure},
		{"unreadable key file fails", []string{"validate-logs", "--public-key", filepath.Join(t.TempDir(), "absent.pem"), t.TempDir()}, cli.ExitFailure},
		{"source without digests fails", []string{"validate-logs", "--public-key", keyFile, t.TempDir()}, cli.ExitFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errs := runCLI(t, tc.args...); code != tc.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.want, errs)
			}
		})
	}
}
