package compliance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...)
}

// fixtureSources are the real samples (plaso lookup-events, panther rule tests) and the derived
// records of testdata/compliance-derived. The cloud-custodian RunInstances samples are from 2016,
// older than the longest retention a store can have (3653 days), so ingest drops them.
var fixtureSources = []string{
	testdata("plaso-cloudtrail-lookupevents"),
	testdata("panther-analysis-cloudtrail-tests", "panther_cloudtrail_rule_tests.jsonl"),
	testdata("compliance-derived"),
}

// costCSV is a CUR 1.0 table (Athena column names) for the fixture's instances. Worked by hand:
//
//	i-0d00000000000a001: 1.00 + 1.50 (usage, two days) ; the 0.20 Tax line is excluded → 2.50
//	i-0d00000000000a003: 0.75 → 0.75
//	i-0d00000000000b001: SavingsPlanCoveredUsage 0.40, effective 0.25; SavingsPlanNegation -0.40 (effective 0) → 0.00 / 0.25
//	i-0d00000000000c001: DiscountedUsage 0.30, reservation effective 0.10 → 0.30 / 0.10
//	i-01234567890123456: 0.05 → 0.05
//	i-07d06021b0da55115: 4.00 → 4.00
//	i-0690cd354a0c3850c: 2.00 + 3.00 → 5.00
//	i-0ffffffffffffffff (never launched in the trail): 9.00 ; vol-0123 (EBS, no instance): 1.25
//	i-0d00000000000a002: AmazonS3 line 7.00 is not EC2 → 0
const costCSV = `line_item_resource_id,line_item_product_code,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_unblended_cost,savings_plan_savings_plan_effective_cost,reservation_effective_cost,line_item_line_item_description
i-0d00000000000a001,AmazonEC2,Usage,2026-09-01T10:00:00Z,2026-09-01T11:00:00Z,1.00,,,t3.micro
i-0d00000000000a001,AmazonEC2,Usage,2026-09-02T00:00:00Z,2026-09-02T01:00:00Z,1.50,,,t3.micro
i-0d00000000000a001,AmazonEC2,Tax,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,0.20,,,tax
i-0d00000000000a003,AmazonEC2,Usage,2026-09-01T10:00:00Z,2026-09-01T11:00:00Z,0.75,,,t3.micro
i-0d00000000000b001,AmazonEC2,SavingsPlanCoveredUsage,2026-09-01T11:00:00Z,2026-09-01T12:00:00Z,0.40,0.25,,t3.micro
i-0d00000000000b001,AmazonEC2,SavingsPlanNegation,2026-09-01T11:00:00Z,2026-09-01T12:00:00Z,-0.40,,,negation
i-0d00000000000c001,AmazonEC2,DiscountedUsage,2026-09-01T12:00:00Z,2026-09-01T13:00:00Z,0.30,,0.10,t3.micro
i-01234567890123456,AmazonEC2,Usage,2022-02-07T22:00:00Z,2022-02-07T23:00:00Z,0.05,,,t2.micro
i-07d06021b0da55115,AmazonEC2,Usage,2024-12-16T18:00:00Z,2024-12-17T06:00:00Z,4.00,,,m7g.large
i-0690cd354a0c3850c,AmazonEC2,Usage,2022-10-14T00:00:00Z,2022-10-14T12:00:00Z,2.00,,,t2.micro
i-0690cd354a0c3850c,AmazonEC2,Usage,2022-10-15T00:00:00Z,2022-10-15T12:00:00Z,3.00,,,t2.micro
i-0ffffffffffffffff,AmazonEC2,Usage,2026-09-01T00:00:00Z,2026-09-01T12:00:00Z,9.00,,,t3.large
vol-0123,AmazonEC2,Usage,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,1.25,,,ebs
i-0d00000000000a002,AmazonS3,Usage,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,7.00,,,s3
`

// shared is the fixture session every test reads; it is built once (ingest takes seconds).
var shared *query.Session

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "compliance-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := buildFixture(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build fixture:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	shared = s
	code := m.Run()
	s.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// openFixture returns the shared fixture session.
func openFixture(t *testing.T) *query.Session {
	t.Helper()
	return shared
}

// buildFixture ingests the fixture into a fresh lake in dir, opens a session, and registers the
// cost CSV as "cur"."cur_2026" and the FOCUS sample as "cur"."focus_sample".
func buildFixture(dir string) (*query.Session, error) {
	ctx := context.Background()
	lk, err := lake.Open(dir)
	if err != nil {
		return nil, err
	}
	st, err := lk.Create("prod-trail", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		return nil, err
	}
	// Some panther test records are deliberately malformed; ingest keeps the good ones.
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: fixtureSources}); err != nil && !strings.Contains(err.Error(), "error") {
		return nil, err
	}
	// The real FOCUS 1.0 sample, registered as a user registers it, as "cur"."focus_sample".
	if _, err := cost.RegisterSource(ctx, lk.Dir, cost.RegisterOptions{Name: "cur.focus_sample", Source: testdata("focus-sample-data", "focus_sample.csv")}); err != nil {
		return nil, err
	}
	csvPath := filepath.Join(lk.Dir, "cur.csv")
	if err := os.WriteFile(csvPath, []byte(costCSV), 0o644); err != nil {
		return nil, err
	}
	s, err := query.Open(ctx, lk, query.Options{Timeout: 20 * time.Second})
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		`CREATE SCHEMA IF NOT EXISTS cur`,
		`CREATE TABLE cur.cur_2026 AS SELECT * FROM read_csv(` + engine.Literal(csvPath) + `, header = true, types = {'line_item_unblended_cost': 'DOUBLE', 'line_item_usage_start_date': 'TIMESTAMP', 'line_item_usage_end_date': 'TIMESTAMP'})`,
	} {
		if err := s.ExecInternal(ctx, q); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}
