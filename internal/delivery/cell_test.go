package delivery_test

import (
	"database/sql"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the engine's driver: its MAP values as a query gives them

	"github.com/auditlake/auditlake/internal/delivery"
)

// TestCellOfAMapIsJSON: a delivered CSV cell of a MAP (CloudTrail's requestparameters) is a
// JSON object, also inside an array, with timestamps as their cells print; it was the driver's
// debugging text "OrderedMap{k: v}".
func TestCellOfAMapIsJSON(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var m, am, tm any
	if err := db.QueryRow(`SELECT MAP(['instanceId', 'bucketName'], ['i-1', 'b"q']), [MAP(['k'], [1])], MAP(['at'], [TIMESTAMP '2026-01-02 03:04:05'])`).Scan(&m, &am, &tm); err != nil {
		t.Fatal(err)
	}
	f := func(v any, want string) {
		t.Helper()
		if got := delivery.Cell(v); got != want {
			t.Errorf("Cell(%T) = %s, want %s", v, got, want)
		}
	}
	f(m, `{"bucketName":"b\"q","instanceId":"i-1"}`)
	f(am, `[{"k":1}]`)
	f(tm, `{"at":"2026-01-02 03:04:05.000"}`)
}
