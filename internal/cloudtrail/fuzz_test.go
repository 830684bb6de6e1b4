package cloudtrail_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// FuzzDecode checks that no input crashes the decoder, that every record it emits satisfies the
// record invariants (checkInvariants) and that gzip changes nothing about the result.
func FuzzDecode(f *testing.F) {
	for _, glob := range []string{"*/*.json*", "*/*/*.json*"} {
		files, _ := filepath.Glob(testdata + glob)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"Records":[` + rec1 + `,` + rec2 + `]}`))
	f.Add([]byte(rec1 + "\n" + rec2))
	f.Add([]byte(`{"CloudTrailEvent":"{\"eventTime\":\"2024-01-02T03:04:05Z\",\"eventName\":\"\\ud800x\"}"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := cloudtrail.DecodeOptions{MaxRecordBytes: 1 << 20, MaxDepth: 64}
		plain := decode(t, in, opts)
		if len(in) > 1 && in[0] == 0x1f && in[1] == 0x8b {
			return
		}
		zipped := decode(t, gz(t, in), opts)
		if (plain.err == nil) != (zipped.err == nil) || plain.st.Records != zipped.st.Records ||
			plain.st.Errors != zipped.st.Errors || plain.st.Skipped != zipped.st.Skipped {
			t.Fatalf("plain %+v %v\ngzip %+v %v", plain.st, plain.err, zipped.st, zipped.err)
		}
		for i := range plain.recs {
			if !reflect.DeepEqual(plain.recs[i], zipped.recs[i]) {
				t.Fatalf("record %d differs between plain and gzip input", i)
			}
		}
	})
}
