package query

import (
	"context"
	"slices"
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
