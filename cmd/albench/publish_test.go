package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/lake"
)

// TestFreshS3StartsEmpty: each fresh serves a new, empty bucket bench; what an earlier round
// put is gone from what is served.
func TestFreshS3StartsEmpty(t *testing.T) {
	var fake freshS3
	if err := fake.fresh(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&fake)
	defer srv.Close()
	do := func(method, key, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/bench/"+key, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("PUT", "round0/a", "hello"); code != http.StatusOK {
		t.Fatalf("PUT: %d", code)
	}
	if code := do("GET", "round0/a", ""); code != http.StatusOK {
		t.Fatalf("GET before fresh: %d", code)
	}
	first := fake.backend
	if err := fake.fresh(); err != nil {
		t.Fatal(err)
	}
	if fake.backend == first {
		t.Fatal("fresh kept the backend")
	}
	if code := do("GET", "round0/a", ""); code != http.StatusNotFound {
		t.Fatalf("GET after fresh: %d, want 404", code)
	}
	if code := do("PUT", "round1/a", "again"); code != http.StatusOK {
		t.Fatalf("PUT after fresh: %d", code)
	}
	if _, err := fake.backend.HeadObject("bench", "round1/a"); err != nil {
		t.Fatal(err)
	}
}

// TestCheckPublished: a prefix holding every live file at its size and a newest metadata whose
// current snapshot counts the manifest's files and rows passes; a missing or short file, a
// newest snapshot of other counts, or no metadata fails.
func TestCheckPublished(t *testing.T) {
	m := &lake.Manifest{Files: []lake.DataFile{
		{Path: "data/eventdate=2026-01-01/a.parquet", Rows: 10, Bytes: 7},
		{Path: "data/eventdate=2026-01-02/b.parquet", Rows: 5, Bytes: 3},
	}}
	metadata := func(files, rows int) string {
		return fmt.Sprintf(`{"format-version": 2, "current-snapshot-id": 2, "snapshots": [
			{"snapshot-id": 1, "summary": {"total-data-files": "1", "total-records": "10"}},
			{"snapshot-id": 2, "summary": {"total-data-files": "%d", "total-records": "%d"}}]}`, files, rows)
	}
	setup := func(skip string, short string, newest string) *s3mem.Backend {
		b := s3mem.New()
		if err := b.CreateBucket("bench"); err != nil {
			t.Fatal(err)
		}
		put := func(key string, body []byte) {
			if _, err := b.PutObject("bench", key, nil, bytes.NewReader(body), int64(len(body)), nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range m.Files {
			switch f.Path {
			case skip:
			case short:
				put("round0/"+f.Path, make([]byte, f.Bytes-1))
			default:
				put("round0/"+f.Path, make([]byte, f.Bytes))
			}
		}
		put("round1/"+m.Files[0].Path, make([]byte, 1)) // another prefix: not looked at
		put("round0/metadata/00000-x.metadata.json", []byte(metadata(0, 0)))
		if newest != "" {
			put("round0/metadata/00001-y.metadata.json", []byte(newest))
		}
		return b
	}
	if err := checkPublished(setup("", "", metadata(2, 15)), "bench", "round0/", m); err != nil {
		t.Fatalf("whole: %v", err)
	}
	for name, b := range map[string]*s3mem.Backend{
		"a file missing":                 setup(m.Files[1].Path, "", metadata(2, 15)),
		"a file short":                   setup("", m.Files[0].Path, metadata(2, 15)),
		"newest snapshot short of files": setup("", "", metadata(1, 15)),
		"newest snapshot short of rows":  setup("", "", metadata(2, 14)),
		"only an older metadata":         setup("", "", ""),
		"no current snapshot":            setup("", "", `{"current-snapshot-id": 3, "snapshots": []}`),
	} {
		if err := checkPublished(b, "bench", "round0/", m); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	if err := checkPublished(setup("", "", metadata(2, 15)), "bench", "round2/", m); err == nil {
		t.Error("an empty prefix passed")
	}
}
