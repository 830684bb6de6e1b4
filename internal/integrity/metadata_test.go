package integrity_test

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/integrity"
	"github.com/auditlake/auditlake/internal/integrity/digesttest"
	"github.com/auditlake/auditlake/internal/objstore"
)

// TestCopyDigestMetadataMakesLocalCopyVerifiable copies a trail out of S3 the way ingest does:
// object bytes plus CopyDigestMetadata for digests; the copy then validates offline.
func TestCopyDigestMetadataMakesLocalCopyVerifiable(t *testing.T) {
	ctx := context.Background()
	key := digesttest.NewKey(t)
	tr := buildTrail(t, key)
	client := objstore.New(objstore.Options{EndpointURL: tr.Serve(t)})
	dst := t.TempDir()
	err := client.Walk(ctx, "s3://"+tr.Bucket+"/", func(o objstore.Object) error {
		local := filepath.Join(dst, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			return err
		}
		rc, err := client.Open(ctx, o.URI)
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			return err
		}
		if err := os.WriteFile(local, data, 0o644); err != nil {
			return err
		}
		if strings.Contains(o.Key, "/CloudTrail-Digest/") {
			return integrity.CopyDigestMetadata(ctx, client, o.URI, local)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range tr.Digests {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(d)) + integrity.SidecarSuffix)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(tr.Path(d) + integrity.SidecarSuffix)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("sidecar of %s:\n got %s\nwant %s", d, got, want)
		}
	}
	rep, err := integrity.Validate(ctx, objstore.New(objstore.Options{}), dst, keySet(t, key), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Counts()
	if !rep.OK() || c.Digests != 4 || c.Logs != 4 {
		t.Errorf("local copy: %s, want all 4 digests and 4 logs valid", c)
	}
}

func TestCopyDigestMetadataFailsWithoutSignature(t *testing.T) {
	tr := buildTrail(t, digesttest.NewKey(t))
	client := objstore.New(objstore.Options{EndpointURL: tr.Serve(t)})
	local := filepath.Join(t.TempDir(), "log.json.gz")
	err := integrity.CopyDigestMetadata(context.Background(), client, "s3://"+tr.Bucket+"/"+tr.Logs[0][0], local)
	if err == nil || !strings.Contains(err.Error(), "no x-amz-meta-signature") {
		t.Errorf("err = %v, want no x-amz-meta-signature", err)
	}
	if _, err := os.Stat(local + integrity.SidecarSuffix); !os.IsNotExist(err) {
		t.Errorf("sidecar written for an object without signature (stat err %v)", err)
	}
}

// TestLocalCopyWithoutSidecarsChecksAllButNewest: without metadata only the newest digest lacks
// a signature; older ones are verified with the signature their successor repeats.
func TestLocalCopyWithoutSidecarsChecksAllButNewest(t *testing.T) {
	key := digesttest.NewKey(t)
	tr := buildTrail(t, key)
	for _, d := range tr.Digests {
		if err := os.Remove(tr.Path(d) + integrity.SidecarSuffix); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := integrity.Validate(context.Background(), objstore.New(objstore.Options{}), tr.Source(), keySet(t, key), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(t, tr, rep, false)
	want := allValid(tr)
	want["D3"], want["L3"] = integrity.StatusInvalidSignature, integrity.StatusNotCovered
	want["D2"] = integrity.StatusInvalidSignature
	want["L2"], want["D1"] = integrity.StatusNotCovered, integrity.StatusInvalidSignature
	want["D0"], want["L0a"], want["L0b"] = integrity.StatusInvalidSignature, integrity.StatusNotCovered, integrity.StatusNotCovered
	// An invalid head does not vouch for its predecessor, so each digest is its own head and
	// none has a signature: this is what a plain `aws s3 sync` copy gives.
	if !maps.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	v, _ := rep.Lookup(tr.Path(tr.Digests[3]))
	if !strings.Contains(v.Detail, "no signature") {
		t.Errorf("detail %q does not say the signature is missing", v.Detail)
	}
}

// TestValidateTimeRangeSelectsDigestsByName: --from 12:30 keeps the 13:01 and 14:01 digests and
// the logs they list, like the AWS CLI (which stops walking at the first digest starting before
// from).
func TestValidateTimeRangeSelectsDigestsByName(t *testing.T) {
	key := digesttest.NewKey(t)
	tr := buildTrail(t, key)
	from := digesttest.Start.Add(2*time.Hour + 30*time.Minute)
	rep, err := integrity.Validate(context.Background(), objstore.New(objstore.Options{}), tr.Source(), keySet(t, key), from, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(t, tr, rep, false)
	want := map[string]integrity.Status{"D2": integrity.StatusValid, "D3": integrity.StatusValid, "L2": integrity.StatusValid, "L3": integrity.StatusValid}
	if !maps.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	to := digesttest.Start.Add(70 * time.Minute) // digests named up to an hour after to count
	rep, err = integrity.Validate(context.Background(), objstore.New(objstore.Options{}), tr.Source(), keySet(t, key), time.Time{}, to)
	if err != nil {
		t.Fatal(err)
	}
	got = statuses(t, tr, rep, false)
	want = map[string]integrity.Status{"D0": integrity.StatusValid, "D1": integrity.StatusValid, "L0a": integrity.StatusValid, "L0b": integrity.StatusValid}
	if !maps.Equal(got, want) {
		t.Errorf("to %v: got %v\nwant %v", to, got, want)
	}
}
