package objstore

import (
	"strings"
	"testing"
)

// TestPartSizeFitsS3sLimits: a file that the asked part size would cut into more than 10,000
// parts (S3 refuses part 10,001) gets parts just large enough, in whole MiB; none is larger than
// S3's 5 GiB, and a file past S3's largest object is refused before anything is sent.
func TestPartSizeFitsS3sLimits(t *testing.T) {
	const mib, gib = 1 << 20, 1 << 30
	for _, c := range []struct{ size, asked, want int64 }{
		{0, 0, DefaultPartSize},
		{100 * gib, 0, DefaultPartSize},         // 1,600 parts of 64 MiB
		{625 * gib, 0, DefaultPartSize},         // exactly 10,000
		{625*gib + 1, 0, DefaultPartSize + mib}, // one byte more: 65 MiB parts
		{50 * gib, 5 * mib, 6 * mib},            // 10,240 parts of 5 MiB: 6 MiB
		{1 << 40, 8 * gib, MaxPartSize},         // asked above S3's part limit
		{MaxObjectSize, 0, 525 * mib},
	} {
		got, err := PartSize(c.size, c.asked)
		if err != nil || got != c.want {
			t.Errorf("PartSize(%d, %d) = %d, %v; want %d", c.size, c.asked, got, err, c.want)
			continue
		}
		if parts := (c.size + got - 1) / got; parts > MaxParts {
			t.Errorf("PartSize(%d, %d) = %d: %d parts", c.size, c.asked, got, parts)
		}
	}
	if _, err := PartSize(MaxObjectSize+1, 0); err == nil || !strings.Contains(err.Error(), "5 TiB") {
		t.Errorf("a file past 5 TiB: %v", err)
	}
}
