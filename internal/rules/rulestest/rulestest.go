// Package rulestest registers detection rules, in a lake of its own where asked, for tests of
// the packages that evaluate them.
package rulestest

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/alerts"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
	"github.com/auditlake/auditlake/internal/sigma"
)

// EmptyLake is a fresh lake in a test's temporary directory with an empty store "trail"
// (retention: the longest), where rules are added and events ingested.
func EmptyLake(t testing.TB) (*lake.Lake, lake.Store) {
	t.Helper()
	lk, err := lake.Open(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("trail", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	return lk, st
}

// AddEveryGoRule registers in lk the community Sigma rules (testdata/sigma-aws-cloudtrail-rules)
// and the built-ins but launch-compliance: every rule with a Go evaluation (rules.GoEval).
func AddEveryGoRule(t testing.TB, lk *lake.Lake) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	compiled, _, err := sigma.Load(filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "sigma-aws-cloudtrail-rules", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	rs := rules.FromSigma(compiled)
	for _, b := range rules.Builtins {
		if b.Name != rules.LaunchCompliance {
			rs = append(rs, rules.Rule{ID: b.Name, Title: b.Title, Kind: rules.KindBuiltin, Builtin: b.Name, Severity: b.Severity, Enabled: true})
		}
	}
	if _, err := rules.Add(context.Background(), lk, rs...); err != nil {
		t.Fatal(err)
	}
}

// AlertKeys are alerts as comparable text (rule, time, event ids), sorted: what two
// evaluations of the same events must agree on.
func AlertKeys(as []alerts.Alert) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.Rule+" "+a.EventTime.String()+" "+strings.Join(a.EventIDs, ","))
	}
	slices.Sort(ids)
	return ids
}
