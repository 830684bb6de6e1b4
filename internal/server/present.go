package server

import (
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"
)

// Present is v, a value of a result column of the engine's type typ (Column.Type), as every
// door shows it, for the types whose Go value alone does not say how Trino prints them: a
// DATE as 2026-01-02 (its Go value is a midnight timestamp), a TIME as 10:04:05.250 (a time on
// 0001-01-01), a TIME WITH TIME ZONE with its offset, a UUID in its usual form (16 raw bytes),
// an INTERVAL as Trino prints one (1 02:00:00.000, 1-2), a DECIMAL with its scale (1.50, not
// 1.5). Those are returned as text; any other value, NULL included, as it is. The Postgres door
// sends typed values itself and does not use it; the CLI calls it for the engine's results.
func Present(v any, typ string) any {
	if v == nil {
		return nil
	}
	switch x := v.(type) {
	case time.Time:
		switch typ {
		case "DATE":
			return x.Format("2006-01-02")
		case "TIME":
			return x.Format("15:04:05.000")
		case "TIMETZ", "TIME WITH TIME ZONE":
			return x.Format("15:04:05.000-07:00")
		}
	case []byte:
		if typ == "UUID" && len(x) == 16 {
			return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
		}
	}
	switch {
	case typ == "INTERVAL":
		if s, ok := intervalText(v); ok {
			return s
		}
	case strings.HasPrefix(typ, "DECIMAL"):
		if s, ok := decimalText(v); ok {
			return s
		}
	}
	return v
}

// PresentedRows is rows with Present applied to every value by the types of cols (a copy:
// rows are left as they are).
func PresentedRows(cols []Column, rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, row := range rows {
		nr := make([]any, len(row))
		for j, v := range row {
			if j < len(cols) {
				v = Present(v, cols[j].Type)
			}
			nr[j] = v
		}
		out[i] = nr
	}
	return out
}

// intervalText prints an engine interval (a struct of Months, Days and Micros) as Trino prints
// its intervals: months as year-month (1-2), days and microseconds as day-to-second
// (1 02:00:00.000), both when it has both.
func intervalText(v any) (string, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return "", false
	}
	mo, d, us := rv.FieldByName("Months"), rv.FieldByName("Days"), rv.FieldByName("Micros")
	if !mo.CanInt() || !d.CanInt() || !us.CanInt() {
		return "", false
	}
	var parts []string
	if months := mo.Int(); months != 0 || d.Int() == 0 && us.Int() == 0 {
		sign := ""
		if months < 0 {
			sign, months = "-", -months
		}
		parts = append(parts, fmt.Sprintf("%s%d-%d", sign, months/12, months%12))
	}
	if ms := d.Int()*86_400_000 + us.Int()/1000; d.Int() != 0 || us.Int() != 0 {
		sign := ""
		if ms < 0 {
			sign, ms = "-", -ms
		}
		parts = append(parts, fmt.Sprintf("%s%d %02d:%02d:%02d.%03d", sign, ms/86_400_000, ms/3_600_000%24, ms/60_000%60, ms/1000%60, ms%1000))
	}
	return strings.Join(parts, " "), true
}

// decimalText prints an engine DECIMAL (a struct of its digits, Value, and Scale) with all
// its scale's digits, as Trino does: 1.50 in a DECIMAL(5,2).
func decimalText(v any) (string, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return "", false
	}
	scale, digits := rv.FieldByName("Scale"), rv.FieldByName("Value")
	if !scale.IsValid() || !digits.IsValid() || !scale.CanUint() {
		return "", false
	}
	i, ok := digits.Interface().(*big.Int)
	if !ok || i == nil {
		return "", false
	}
	s := new(big.Int).Abs(i).String()
	n := int(scale.Uint())
	if n > 0 {
		if len(s) <= n {
			s = strings.Repeat("0", n-len(s)+1) + s
		}
		s = s[:len(s)-n] + "." + s[len(s)-n:]
	}
	if i.Sign() < 0 {
		s = "-" + s
	}
	return s, true
}
