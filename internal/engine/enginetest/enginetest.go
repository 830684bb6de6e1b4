// Package enginetest holds test helpers for packages that run SQL on the engine.
package enginetest

import (
	"context"
	"testing"

	"github.com/auditlake/auditlake/internal/engine"
)

// Open opens an in-memory engine with the default options, closed when the test ends.
func Open(t testing.TB) *engine.DB {
	t.Helper()
	db, err := engine.Open(context.Background(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
