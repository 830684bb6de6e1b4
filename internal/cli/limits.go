package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// byteSize is a flag holding a number of bytes, written as 67108864, 64MiB, 64MB, 4GiB, 1.5GB.
type byteSize int64

var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1},
}

func (b *byteSize) String() string { return engine.FormatBytes(int64(*b)) }

func (b *byteSize) Set(s string) error {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1<<62 {
		return fmt.Errorf("%q is not a size such as 67108864, 64MiB or 4GiB", s)
	}
	*b = byteSize(v * mult)
	return nil
}

// maxTempSizeCap is the default spill cap of the query engines at most: 4 GiB.
const maxTempSizeCap = 4 << 30
