// Package icebergtest gives the tests of published tables an S3 server (gofakes3, in-process)
// that counts how many times each object was stored, so a test can show that nothing is
// uploaded twice. Only tests import this package.
package icebergtest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an in-process S3 server.
type S3 struct {
	URL     string
	Backend *s3mem.Backend

	mu     sync.Mutex
	stored map[string]int // "bucket/key" → successful PutObject or CompleteMultipartUpload
	parts  int            // successful UploadPart requests
	fail   int            // writes still to answer 503 SlowDown (-1: all)
	gets   map[string]int // "bucket/key" → GET requests answered
	down   bool           // every connection is closed unanswered (Down)
	stall  *stall         // GETs under a prefix stop mid-body (Stall)
	hold   chan struct{}  // writes wait until it is closed (HoldWrites)
	damage int            // bodies still to damage in transit (Damage)
	crcs   int            // bodies whose x-amz-checksum-crc32c was checked and held
}

// Damage flips a byte of the next n PUT bodies (objects and parts) on their way in, as a faulty
// network would; S3 refuses a body whose x-amz-checksum-crc32c it then contradicts (BadDigest).
func (s *S3) Damage(n int) {
	s.mu.Lock()
	s.damage = n
	s.mu.Unlock()
}

// Checked is how many PUT bodies carried an x-amz-checksum-crc32c that held.
func (s *S3) Checked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crcs
}

// checkCRC32C does what S3 does with a PUT's x-amz-checksum-crc32c (gofakes3 ignores it): the
// body must have that CRC-32C, else the request is refused with 400 BadDigest. The body is read
// here (after Damage), so r gets it back in memory. It reports whether the request may go on.
func (s *S3) checkCRC32C(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return false
	}
	s.mu.Lock()
	if s.damage > 0 && len(body) > 0 {
		s.damage--
		body = append([]byte(nil), body...)
		body[len(body)/2] ^= 0x20
	}
	s.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	want := r.Header.Get("X-Amz-Checksum-Crc32c")
	if want == "" {
		return true
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	if base64.StdEncoding.EncodeToString(sum[:]) != want {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>BadDigest</Code><Message>The CRC32C you specified did not match the calculated checksum.</Message></Error>`))
		return false
	}
	s.mu.Lock()
	s.crcs++
	s.mu.Unlock()
	return true
}

// HoldWrites makes every write (PUT, POST, DELETE) wait, unanswered, until release is called.
func (s *S3) HoldWrites() (release func()) {
	hold := make(chan struct{})
	s.mu.Lock()
	s.hold = hold
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(hold)
		})
	}
}

// stall holds GETs of objects under prefix after their first bytes.
type stall struct {
	prefix  string
	bytes   int
	started chan struct{}
	once    sync.Once
	release chan struct{}
}

// Down makes the server unreachable (true: every connection is closed without an answer, as
// when S3 cannot be reached) or brings it back (false).
func (s *S3) Down(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// Gets is how many GET requests for objects under prefix ("bucket/key…") were answered, by object.
func (s *S3) Gets(prefix string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, n := range s.gets {
		if strings.HasPrefix(k, prefix) {
			out[k] = n
		}
	}
	return out
}

// Stall makes GETs of objects under prefix stop after their first n bytes of body until release
// is called; started is closed when the first such GET has sent them.
func (s *S3) Stall(prefix string, n int) (started <-chan struct{}, release func()) {
	st := &stall{prefix: prefix, bytes: n, started: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.stall = st
	s.mu.Unlock()
	var once sync.Once
	return st.started, func() {
		once.Do(func() {
			close(st.release)
			s.mu.Lock()
			s.stall = nil
			s.mu.Unlock()
		})
	}
}

// stallWriter sends the first bytes of a stalled GET's body, then waits for the release.
type stallWriter struct {
	http.ResponseWriter
	st   *stall
	sent int
}

func (w *stallWriter) Write(b []byte) (int, error) {
	if w.sent < w.st.bytes {
		n := min(len(b), w.st.bytes-w.sent)
		k, err := w.ResponseWriter.Write(b[:n])
		w.sent += k
		if err != nil || n == len(b) {
			return k, err
		}
		b = b[n:]
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	w.st.once.Do(func() { close(w.st.started) })
	<-w.st.release
	k, err := w.ResponseWriter.Write(b)
	return k + w.st.bytes, err
}

// FailWrites makes the next n writes (PUT, POST, DELETE) answer 503 SlowDown, as S3 does when
// throttling; -1 fails every write until FailWrites(0).
func (s *S3) FailWrites(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

// NewS3 starts an S3 server holding bucket, with credentials for the SDK in the environment
// (child processes inherit them).
func NewS3(t testing.TB, bucket string) *S3 {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s := &S3{Backend: s3mem.New(), stored: map[string]int{}, gets: map[string]int{}}
	h := gofakes3.New(s.Backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down, st := s.down, s.stall
		s.mu.Unlock()
		if down {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "" {
			obj := strings.TrimPrefix(r.URL.Path, "/")
			s.mu.Lock()
			s.gets[obj]++
			s.mu.Unlock()
			if st != nil && strings.HasPrefix(obj, st.prefix) {
				w = &stallWriter{ResponseWriter: w, st: st}
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.mu.Lock()
			hold := s.hold
			s.mu.Unlock()
			if hold != nil {
				<-hold
			}
			s.mu.Lock()
			fail := s.fail != 0
			if s.fail > 0 {
				s.fail--
			}
			s.mu.Unlock()
			if fail {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
				return
			}
		}
		if r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" && !s.checkCRC32C(w, r) {
			return
		}
		rec := &status{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.code != http.StatusOK {
			return
		}
		q := r.URL.Query()
		obj := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case r.Method == http.MethodPut && q.Get("partNumber") != "":
			s.mu.Lock()
			s.parts++
			s.mu.Unlock()
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "",
			r.Method == http.MethodPost && q.Get("uploadId") != "":
			s.mu.Lock()
			s.stored[obj]++
			s.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	if err := s.Backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	return s
}

type status struct {
	http.ResponseWriter
	code  int
	wrote bool
}

// WriteHeader records the status; gofakes3 sometimes writes it twice, and net/http keeps the first.
func (s *status) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.code, s.wrote = code, true
	s.ResponseWriter.WriteHeader(code)
}

// Stored is how many times each object under prefix ("bucket/key…") was stored.
func (s *S3) Stored(prefix string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, n := range s.stored {
		if strings.HasPrefix(k, prefix) {
			out[k] = n
		}
	}
	return out
}

// Parts is how many multipart parts were stored.
func (s *S3) Parts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts
}
