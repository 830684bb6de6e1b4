package rules

import "github.com/auditlake/auditlake/internal/lake"

// SetGrouping sets how a rule's alerts are grouped (package alerts checks the values).
func SetGrouping(lk *lake.Lake, ref, groupBy, window string) (Rule, error) {
	return change(lk, ref, func(f *registryFile, i int) { f.Rules[i].GroupBy, f.Rules[i].Window = groupBy, window })
}
