package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/engine"
)

// scaleCost writes the registered cost table cur as a CUR 1.0 Athena-integration Parquet report
// (year=/month= partitions) under out, with every line item repeated copies times as other line
// items of the same instance and hour — the data-transfer, EBS and credit lines a real CUR holds
// beside each instance-hour — so that a generated organization reaches the line counts of a
// large account while every line still matches a launched instance.
func scaleCost(ctx context.Context, data, cur, out string, copies int) error {
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "4GB", TempDir: filepath.Join(out, ".tmp")})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := cost.Register(ctx, db, data); err != nil {
		return err
	}
	dbName, table, _ := strings.Cut(cur, ".")
	src := engine.Ident(dbName) + "." + engine.Ident(table)
	var parts []string
	kinds := []string{"", "DataTransfer-Out-Bytes", "EBS:VolumeIOUsage", "CPUCredits:t3", "DataTransfer-Regional-Bytes", "EBS:SnapshotUsage", "NatGateway-Bytes"}
	for i := 0; i < copies; i++ {
		if i == 0 {
			parts = append(parts, "SELECT * FROM "+src)
			continue
		}
		kind := kinds[i%len(kinds)]
		parts = append(parts, fmt.Sprintf(`SELECT * REPLACE (identity_line_item_id || '-%d' AS identity_line_item_id,
			line_item_usage_type || '-%s' AS line_item_usage_type,
			line_item_unblended_cost / 100 AS line_item_unblended_cost,
			savings_plan_savings_plan_effective_cost / 100 AS savings_plan_savings_plan_effective_cost)
			FROM %s WHERE line_item_resource_id LIKE 'i-%%'`, i, kind, src))
	}
	dir := filepath.Join(out, "bench-cur", "bench-cur", "year=2026", "month=9")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	q := "COPY (" + strings.Join(parts, " UNION ALL ") + ") TO " + engine.Literal(filepath.Join(dir, "bench-cur-00001.snappy.parquet")) + " (FORMAT parquet, COMPRESSION snappy)"
	if err := db.Exec(ctx, q); err != nil {
		return err
	}
	var n int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+engine.Literal(filepath.Join(dir, "*.parquet"))+")").Scan(&n); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %d cost lines to %s\n", n, dir)
	return nil
}
