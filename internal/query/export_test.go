package query

import (
	"context"
	"slices"

	"github.com/auditlake/auditlake/internal/dialect"
)

// WithoutPushdown makes s run every query through its restricted views as restrict made them,
// with nothing of the query added (pushdown.go): the oracle the pushdown is compared with.
func WithoutPushdown(s *Session) { s.noPushdown = true }

// Pushed returns what s adds to its restricted views for query sql (DuckDB SQL): the raw
// predicates and the narrowed columns, sorted.
func Pushed(s *Session, sql string) []string {
	var out []string
	for _, p := range s.planQuery(context.Background(), sql) {
		out = append(out, p.where...)
		out = append(out, p.replace...)
		if p.order != "" {
			out = append(out, p.order)
		}
	}
	slices.Sort(out)
	return out
}

// RunText returns the text s runs for user query sql once it has prepared it: sql (in DuckDB's
// dialect) with its views' variants named in their place, or "" when it runs sql as written.
func RunText(s *Session, sql string) string {
	rewritten, err := dialect.Rewrite(sql)
	if err != nil {
		return ""
	}
	if p := s.prepared[rewritten]; p != nil {
		return p.run
	}
	return ""
}

// VariantPrefix starts the names of the views' variants.
const VariantPrefix = variantPrefix

// MaxVariants is how many variants a session keeps.
const MaxVariants = maxVariants
