package cli

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// TestServeBackendCommitsTheAuditLogAtShutdown: serve's backend records each query in its
// audit log and commits the last records when it is closed (after the server stopped), so a
// query answered just before Ctrl-C is in the audit store.
func TestServeBackendCommitsTheAuditLogAtShutdown(t *testing.T) {
	dir := t.TempDir()
	env := &Env{Stdin: nil, Stdout: io.Discard, Stderr: io.Discard, Log: slog.New(slog.DiscardHandler), DataDir: dir}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, closer, err := newBackend(ctx, env, serveLimits{maxQueries: 1, maxClientQueries: 4, maxResultBytes: 1 << 20, maxTempSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	qctx := access.WithCaller(context.Background(), access.Caller{Principal: access.Operator(), Door: access.DoorAPI, SourceIP: "192.0.2.3"})
	if _, err := b.Query(qctx, "SELECT 42 AS answer", 10); err != nil {
		t.Fatal(err)
	}
	cancel() // Ctrl-C: the server stops, then the backend is closed
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), `SELECT count(*) FROM "aws:cloudtrail"."auditlake-audit" WHERE sourceipaddress = '192.0.2.3'
		AND json_extract_string(requestparameters, '$.queryStatement') = 'SELECT 42 AS answer'`)
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Rows[0][0]; n != int64(1) {
		t.Fatalf("the audit store holds %v records of the query, want 1", n)
	}
}
