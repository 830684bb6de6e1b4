package cost

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/engine"
)

// copyKeys are the columns that identify a CUR line item: the same id in the same hour is the
// same charge.
const (
	keyID       = "identity_line_item_id"
	keyInterval = "identity_time_interval"
	keyInvoice  = "bill_invoice_id"
)

// fileKeys are the distinct line items of one file and how many of its rows carry an invoice id
// (a final bill has one; the not-final version of a period does not).
type fileKeys struct {
	distinct, invoiced, lines int64
}

// lineColumns describe what a line charges; two versions of one report repeat them with new
// line item ids (AWS does not keep ids across report versions).
var lineColumns = []string{"line_item_usage_account_id", "line_item_resource_id", "line_item_usage_type",
	"line_item_line_item_type", "line_item_operation", "line_item_usage_start_date", "line_item_unblended_cost"}

// dedupeCopies looks for copies of one report among the files that no manifest chose (loose
// files, periods without a manifest): a file whose line items (id and time interval) another
// file holds as well does not count — a report saved twice under other names, the not-final
// version beside the final one, a downloaded copy beside the report's own layout. Of two such
// files with the same line items the final one counts (more rows with an invoice id), else the
// newer, else the first; a file a manifest chose always counts. It returns the indexes of
// t.Files to keep and the skipped files. Files that share only some line items both count, with
// a warning: CUR line item ids are only unique within one file, so a partial overlap is not
// proof of a copy.
func dedupeCopies(ctx context.Context, db *engine.DB, t Table, headers [][]string, cands []candidate) (keep []int, skipped []Skipped, warnings []string, err error) {
	var parts []string
	anyUnmanaged := false
	for i := range t.Files {
		anyUnmanaged = anyUnmanaged || cands[i].unmanaged
	}
	for i := range t.Files {
		keep = append(keep, i)
		if !anyUnmanaged || t.Format == FormatFOCUS {
			continue
		}
		have := map[string]bool{}
		for _, c := range outputColumns(t.Format, headers[i]) {
			have[c.Name] = true
		}
		if !have[keyID] {
			continue
		}
		col := func(name string) string {
			if have[name] {
				return engine.Ident(name)
			}
			return "CAST(NULL AS VARCHAR)"
		}
		one := t
		one.Files = t.Files[i : i+1]
		one.RawColumns = headers[i]
		q, err := viewSQL(one, []string{t.Files[i].Local})
		if err != nil {
			return nil, nil, nil, err
		}
		// A line item is kept as the 64-bit hash of its id and interval (NULL without an id), so
		// that a folder of large files fits the engine's memory.
		var line []string
		for _, c := range lineColumns {
			line = append(line, col(c))
		}
		parts = append(parts, "SELECT "+strconv.Itoa(i)+"::INTEGER AS f, CASE WHEN coalesce("+col(keyID)+", '') <> '' THEN hash("+col(keyID)+", "+col(keyInterval)+") END AS k, "+
			"hash("+strings.Join(line, ", ")+") AS n, coalesce("+col(keyInvoice)+", '') <> '' AS invoiced FROM ("+q+")")
	}
	if len(parts) < 2 {
		return keep, nil, nil, nil
	}
	if err := db.Exec(ctx, "CREATE OR REPLACE TEMP TABLE cost_copy_keys AS "+strings.Join(parts, " UNION ALL ")); err != nil {
		return nil, nil, nil, fmt.Errorf("compare the line items of %s's files: %w", t.Name(), err)
	}
	defer db.Exec(ctx, "DROP TABLE IF EXISTS cost_copy_keys")
	per := map[int]fileKeys{}
	rows, err := db.Query(ctx, `SELECT f, count(DISTINCT k), count(*) FILTER (WHERE invoiced), count(DISTINCT n) FROM cost_copy_keys GROUP BY f`)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("compare the line items of %s's files: %w", t.Name(), err)
	}
	for rows.Next() {
		var f int
		var k fileKeys
		if err := rows.Scan(&f, &k.distinct, &k.invoiced, &k.lines); err != nil {
			rows.Close()
			return nil, nil, nil, err
		}
		per[f] = k
	}
	rows.Close()
	// ids are the pairs of files sharing line items (id and hour); similar, sharing lines (what
	// they charge): without a shared id and nearly all the same, two versions of one report most
	// likely — a warning only, the evidence is not the id.
	pairs, err := sharedPairs(ctx, db, "k")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("compare the line items of %s's files: %w", t.Name(), err)
	}
	similar, err := sharedPairs(ctx, db, "n")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("compare the line items of %s's files: %w", t.Name(), err)
	}

	dropped := map[int]bool{}
	managed := func(i int) bool { return !cands[i].unmanaged }
	drop := func(loser, winner int, why string) {
		dropped[loser] = true
		skipped = append(skipped, Skipped{URI: t.Files[loser].URI,
			Reason: fmt.Sprintf("a copy: its %d line items are all in %s, which counts%s", per[loser].distinct, t.Files[winner].URI, why)})
	}
	overlap := func(p pair) {
		warnings = append(warnings, fmt.Sprintf("%s and %s share %d line items (of %d and %d); both count — if one is an older version of the other, remove it",
			t.Files[p.a].URI, t.Files[p.b].URI, p.shared, per[p.a].distinct, per[p.b].distinct))
	}
	for _, p := range pairs {
		if dropped[p.a] || dropped[p.b] {
			continue
		}
		ka, kb := per[p.a], per[p.b]
		switch {
		case managed(p.a) && managed(p.b):
			// Both chosen by manifests: the layout decided.
		case managed(p.a) && p.shared == kb.distinct:
			drop(p.b, p.a, " (chosen by its manifest)")
		case managed(p.b) && p.shared == ka.distinct:
			drop(p.a, p.b, " (chosen by its manifest)")
		case managed(p.a) || managed(p.b):
			overlap(p)
		case p.shared == ka.distinct && p.shared == kb.distinct:
			ta, tb := cands[p.a].obj.ModTime, cands[p.b].obj.ModTime
			switch {
			case ka.invoiced != kb.invoiced && ka.invoiced > kb.invoiced:
				drop(p.b, p.a, " (final: it has invoice ids)")
			case ka.invoiced != kb.invoiced:
				drop(p.a, p.b, " (final: it has invoice ids)")
			case tb.After(ta):
				drop(p.a, p.b, " (newer)")
			case ta.After(tb):
				drop(p.b, p.a, " (newer)")
			default:
				drop(p.b, p.a, "")
			}
		case p.shared == ka.distinct:
			drop(p.a, p.b, "")
		case p.shared == kb.distinct:
			drop(p.b, p.a, "")
		default:
			overlap(p)
		}
	}
	sharesID := map[[2]int]bool{}
	for _, p := range pairs {
		sharesID[[2]int{p.a, p.b}] = true
	}
	for _, p := range similar {
		small := min(per[p.a].lines, per[p.b].lines)
		if dropped[p.a] || dropped[p.b] || sharesID[[2]int{p.a, p.b}] || small == 0 || p.shared*10 < small*9 {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("%s and %s look like two versions of one report: %d of the %d lines of the smaller charge the same account, resource, usage type, line type, operation, hour and amount under other line item ids; both count — if one is an older version, remove it",
			t.Files[p.a].URI, t.Files[p.b].URI, p.shared, small))
	}
	keep = keep[:0]
	for i := range t.Files {
		if !dropped[i] {
			keep = append(keep, i)
		}
	}
	return keep, skipped, warnings, nil
}

// pair is two files (indexes, a < b) and how many distinct values of a key they share.
type pair struct {
	a, b   int
	shared int64
}

// sharedPairs counts, for every two files in cost_copy_keys, the distinct values of column key
// (k: line item id and hour; n: what the line charges) they share.
func sharedPairs(ctx context.Context, db *engine.DB, key string) ([]pair, error) {
	rows, err := db.Query(ctx, `WITH d AS (SELECT DISTINCT f, `+key+` AS v FROM cost_copy_keys WHERE `+key+` IS NOT NULL)
		SELECT a.f, b.f, count(*) FROM d a JOIN d b ON a.v = b.v AND a.f < b.f
		GROUP BY ALL ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pair
	for rows.Next() {
		var p pair
		if err := rows.Scan(&p.a, &p.b, &p.shared); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
