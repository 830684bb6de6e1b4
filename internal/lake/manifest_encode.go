package lake

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// manifestEncoder writes a manifest as json.MarshalIndent(m, "", " ") does, byte for byte, but
// encodes each file and retired entry once: a writer commits hundreds of times in a bulk load
// (every batch), each time rewriting the whole manifest, which names every live file of the
// store — at 10M events ~550 files and as many retired ones, encoded by reflection again at each
// commit for a few unchanged entries. The format, the atomic rewrite of the whole file and so
// the commit protocol (docs/reliability.md) are unchanged: readers and older binaries read it as
// before.
type manifestEncoder struct {
	files   map[DataFile][]byte
	retired map[RetiredFile][]byte
}

// entry returns v's encoding as an element of a top-level array of the manifest
// (json.MarshalIndent with the prefix of that depth), from cache when it encoded v before;
// next collects the entries of this manifest, which become the cache of the next one.
func entry[K comparable](cache, next map[K][]byte, v K) ([]byte, error) {
	if b, ok := cache[v]; ok {
		next[v] = b
		return b, nil
	}
	b, err := json.MarshalIndent(v, "  ", " ")
	if err != nil {
		return nil, err
	}
	next[v] = b
	return b, nil
}

// encode returns m as json.MarshalIndent(m, "", " ") does.
func (e *manifestEncoder) encode(m *Manifest) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(256 + 320*(len(m.Files)+len(m.Retired)))
	b.WriteString("{\n \"version\": ")
	b.WriteString(strconv.FormatInt(m.Version, 10))
	b.WriteString(",\n \"files\": ")
	files := make(map[DataFile][]byte, len(m.Files))
	if err := writeArray(&b, m.Files, func(f DataFile) ([]byte, error) { return entry(e.files, files, f) }); err != nil {
		return nil, err
	}
	if len(m.StateSegments) > 0 {
		b.WriteString(",\n \"state_segments\": ")
		if err := writeArray(&b, m.StateSegments, func(s string) ([]byte, error) { return json.Marshal(s) }); err != nil {
			return nil, err
		}
	}
	retired := make(map[RetiredFile][]byte, len(m.Retired))
	if len(m.Retired) > 0 {
		b.WriteString(",\n \"retired\": ")
		if err := writeArray(&b, m.Retired, func(r RetiredFile) ([]byte, error) { return entry(e.retired, retired, r) }); err != nil {
			return nil, err
		}
	}
	if len(m.RetiredSegments) > 0 {
		b.WriteString(",\n \"retired_segments\": ")
		if err := writeArray(&b, m.RetiredSegments, func(s RetiredSegment) ([]byte, error) { return json.MarshalIndent(s, "  ", " ") }); err != nil {
			return nil, err
		}
	}
	b.WriteString(",\n \"committed_at\": ")
	if err := writeJSON(&b, m.CommittedAt); err != nil {
		return nil, err
	}
	if m.Writer != "" {
		b.WriteString(",\n \"writer\": ")
		if err := writeJSON(&b, m.Writer); err != nil {
			return nil, err
		}
	}
	b.WriteString("\n}")
	e.files, e.retired = files, retired
	return b.Bytes(), nil
}

// writeArray writes vs as an array one level below the top, as MarshalIndent lays it out: null
// for a nil slice, [] for an empty one.
func writeArray[T any](b *bytes.Buffer, vs []T, enc func(T) ([]byte, error)) error {
	switch {
	case vs == nil:
		b.WriteString("null")
		return nil
	case len(vs) == 0:
		b.WriteString("[]")
		return nil
	}
	b.WriteString("[")
	for i, v := range vs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  ")
		s, err := enc(v)
		if err != nil {
			return err
		}
		b.Write(s)
	}
	b.WriteString("\n ]")
	return nil
}

func writeJSON[T string | time.Time](b *bytes.Buffer, v T) error {
	s, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(s)
	return nil
}
