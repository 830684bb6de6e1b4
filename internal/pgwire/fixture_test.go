package pgwire_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/cli"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/pgwire"
)

// lakeFixture is a data directory with one CloudTrail store holding the stratus-red-team samples,
// an admin user, and a user bob who may read only the store's ec2 events.
type lakeFixture struct {
	dir, storeID string
	admin, bob   access.Credentials
	bobEvents    int // events bob's row filter admits
	allEvents    int
}

var (
	fixtureOnce sync.Once
	fixture     *lakeFixture
	fixtureErr  error
)

func runCLI(dir string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), append([]string{"--data", dir}, args...), strings.NewReader(""), &out, &errb); code != 0 {
		return "", &cliError{args: args, stderr: errb.String()}
	}
	return out.String(), nil
}

type cliError struct {
	args   []string
	stderr string
}

func (e *cliError) Error() string { return "auditlake " + strings.Join(e.args, " ") + ": " + e.stderr }

// sharedLake builds the fixture once per test binary (ingest takes a few seconds).
func sharedLake(t testing.TB) *lakeFixture {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pgwire-lake-")
		if err != nil {
			fixtureErr = err
			return
		}
		f := &lakeFixture{dir: dir}
		fixtureErr = func() error {
			out, err := runCLI(dir, "eds", "create", "trail", "--output", "json")
			if err != nil {
				return err
			}
			var st struct{ ID string }
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				return err
			}
			f.storeID = st.ID
			if _, err := runCLI(dir, "ingest", "cloudtrail", "--eds", "trail", filepath.Join("..", "..", "testdata", "stratus-red-team-detonation-logs")); err != nil {
				return err
			}
			reg := access.Open(dir)
			if f.admin, err = reg.CreateUser("root", true, nil); err != nil {
				return err
			}
			if f.bob, err = reg.CreateUser("bob", false, nil); err != nil {
				return err
			}
			if _, err := runCLI(dir, "grant", "select", "--on", "store:trail", "--to", "bob", "--row-filter", "eventsource = 'ec2.amazonaws.com'"); err != nil {
				return err
			}
			count := func(where string) (int, error) {
				out, err := runCLI(dir, "query", "--format", "csv", `SELECT count(*) FROM "aws:cloudtrail"."`+f.storeID+`" WHERE `+where)
				if err != nil {
					return 0, err
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				var n int
				_, err = fmtSscan(lines[len(lines)-1], &n)
				return n, err
			}
			if f.allEvents, err = count("true"); err != nil {
				return err
			}
			f.bobEvents, err = count("eventsource = 'ec2.amazonaws.com'")
			return err
		}()
		fixture = f
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	if fixture.bobEvents == 0 || fixture.bobEvents == fixture.allEvents {
		t.Fatalf("fixture: bob sees %d of %d events; the row filter test needs some but not all", fixture.bobEvents, fixture.allEvents)
	}
	return fixture
}

// testServer is a running Postgres door over the fixture's lake.
type testServer struct {
	addr    string
	host    string
	port    string
	backend *app.Backend
	audit   *auditlog.Log
}

// startServer serves the lake at dir on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, dir string, o pgwire.Options) *testServer {
	t.Helper()
	return startServerWith(t, dir, o, true)
}

// startServerWith is startServer; unlimited lifts the per-client limit of the backend (every
// test client comes from 127.0.0.1), else the backend has serve's default limits.
func startServerWith(t testing.TB, dir string, o pgwire.Options, unlimited bool) *testServer {
	t.Helper()
	ao := app.Options{}
	if unlimited {
		ao = app.Options{MaxClientQueries: -1, MaxWaiting: 256}
	}
	return startServerApp(t, dir, o, ao, false)
}

// startServerApp is startServer over a backend with the options ao; audit gives the backend an
// audit log (testServer.audit, flushed by the test).
func startServerApp(t testing.TB, dir string, o pgwire.Options, ao app.Options, audit bool) *testServer {
	t.Helper()
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := app.New(lk, ao)
	if audit {
		b.Audit = auditlog.Open(lk)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pgwire.New(b, access.Open(dir), o).Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		b.Close()
	})
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	return &testServer{addr: ln.Addr().String(), host: host, port: port, backend: b, audit: b.Audit}
}

// running waits until n queries run on the server (admitted by its backend), for wait at most,
// and says whether they did.
func (s *testServer) running(n int, wait time.Duration) bool {
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		if running, _ := s.backend.Admitted(); running == n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// dsn is a libpq connection string for the credentials.
func (s *testServer) dsn(c access.Credentials, extra string) string {
	return "host=" + s.host + " port=" + s.port + " user=" + c.AccessKeyID + " password=" + c.SecretAccessKey + " dbname=auditlake " + extra
}

// needTool finds a client program; under CI it must be there (the tests fail, not skip).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed: .ci/run installs it (Debian package postgresql-client / python3-psycopg2)", name)
		}
		t.Skipf("%s is not installed (Debian: apt-get install postgresql-client python3-psycopg2)", name)
	}
	return p
}

// debianPython is Debian's python3 (the one python3-psycopg2 and python3-sqlalchemy install
// into; a pyenv python3 may come first on PATH) once it imports the modules; under CI a missing
// module fails the test (.ci/run installs python3-<module>), else it skips.
func debianPython(t *testing.T, modules ...string) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = needTool(t, "python3")
	}
	for _, m := range modules {
		if err := exec.Command(py, "-c", "import "+m).Run(); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("python3-%s is not installed: .ci/run installs it", m)
			}
			t.Skipf("python3-%s is not installed", m)
		}
	}
	return py
}

// psql runs psql with the connection string and arguments, and returns its output.
func psql(t *testing.T, dsn string, args ...string) (string, error) {
	t.Helper()
	bin := needTool(t, "psql")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-X", "-v", "ON_ERROR_STOP=1", "-d", dsn}, args...)...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10", "PAGER=cat", "PSQL_PAGER=cat")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// selfSignedTLS returns a server certificate for 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// exchange sends msgs and a Sync through fe and returns what the server answered until its
// ReadyForQuery: each message's type ("ParseComplete", "DataRow", …), an error as "error CODE".
func exchange(t *testing.T, fe *pgproto3.Frontend, msgs ...pgproto3.FrontendMessage) []string {
	t.Helper()
	for _, m := range msgs {
		fe.Send(m)
	}
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *pgproto3.ReadyForQuery:
			return got
		case *pgproto3.ErrorResponse:
			got = append(got, "error "+m.Code)
		default:
			got = append(got, fmt.Sprintf("%T", m)[len("*pgproto3."):])
		}
	}
}

// TestMain removes the shared lake after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}
