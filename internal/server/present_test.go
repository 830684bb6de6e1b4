package server

import (
	"math/big"
	"testing"
	"time"
)

// The engine's values whose Go form does not say how Trino prints them are shown as Trino
// shows them, by their column's type; others pass as they are.
func TestPresentShowsValuesAsTrinoPrintsThem(t *testing.T) {
	type decimal struct {
		Width, Scale uint8
		Value        *big.Int
	}
	type interval struct {
		Days, Months int32
		Micros       int64
	}
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	f := func(v any, typ string, want any) {
		t.Helper()
		if got := Present(v, typ); got != want {
			t.Errorf("Present(%#v, %s) = %#v, want %#v", v, typ, got, want)
		}
	}
	f(day, "DATE", "2026-01-02")
	f(time.Date(1, 1, 1, 10, 4, 5, 250e6, time.UTC), "TIME", "10:04:05.250")
	f(time.Date(1, 1, 1, 10, 0, 0, 0, time.FixedZone("", 2*3600)), "TIMETZ", "10:00:00.000+02:00")
	f([]byte{0x8e, 0x5f, 0x1a, 0x2b, 0x0c, 0x3d, 0x4e, 0x5f, 0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b}, "UUID", "8e5f1a2b-0c3d-4e5f-8a9b-0c1d2e3f4a5b")
	f(interval{Days: 1, Micros: 2 * 3600e6}, "INTERVAL", "1 02:00:00.000")
	f(interval{Months: 14}, "INTERVAL", "1-2")
	f(interval{Months: -1, Days: -1, Micros: -1500}, "INTERVAL", "-0-1 -1 00:00:00.001")
	f(interval{}, "INTERVAL", "0-0")
	f(decimal{5, 2, big.NewInt(150)}, "DECIMAL(5,2)", "1.50")
	f(decimal{5, 2, big.NewInt(-5)}, "DECIMAL(5,2)", "-0.05")
	f(decimal{38, 0, big.NewInt(12)}, "DECIMAL(38,0)", "12")
	// Others as they are.
	f(day, "TIMESTAMP", day)
	f("x", "VARCHAR", "x")
	f(nil, "DATE", nil)
	f(int64(3), "BIGINT", int64(3))
}

// The JSON API's rows (normalizeRows) show them so: a DATE is not a midnight timestamp.
func TestJSONRowsPresentValuesByColumnType(t *testing.T) {
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	rows := [][]any{{day, day}}
	got := normalizeRows([]Column{{Name: "d", Type: "DATE"}, {Name: "ts", Type: "TIMESTAMP"}}, rows)
	if got[0][0] != "2026-01-02" || got[0][1] != day || rows[0][0] != day {
		t.Errorf("normalizeRows: %v (rows given: %v), want the date as 2026-01-02, the timestamp as it is, the rows given unchanged", got, rows)
	}
}
