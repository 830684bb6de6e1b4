package engine

import (
	"context"
	"fmt"
	"path/filepath"
)

// AllowPaths adds files to DuckDB's allowed_paths so that views over files outside the allowed
// directories (cost files read in place) stay readable after Seal. It must be called before
// Seal; paths already allowed are kept.
func (e *DB) AllowPaths(ctx context.Context, paths []string) error {
	if e.sealed {
		return fmt.Errorf("allow paths: engine already sealed")
	}
	var current []string
	rows, err := e.Query(ctx, "SELECT unnest(CAST(current_setting('allowed_paths') AS VARCHAR[]))")
	if err == nil {
		for rows.Next() {
			var p string
			if rows.Scan(&p) == nil {
				current = append(current, p)
			}
		}
		rows.Close()
	}
	seen := map[string]bool{}
	for _, p := range current {
		seen[p] = true
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("resolve %q: %w", p, err)
		}
		if !seen[abs] {
			seen[abs] = true
			current = append(current, abs)
		}
	}
	return e.Exec(ctx, "SET allowed_paths = "+ListLiteral(current))
}
