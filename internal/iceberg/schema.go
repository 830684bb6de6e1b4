package iceberg

import (
	"context"
	"errors"
	"fmt"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/lake"
)

// create makes the table of store st: the schema of its Parquet files (every file of a store has
// the store type's schema) with fresh field ids, partitioned by day(eventtime), sorted by
// eventsource, eventname, eventtime.
func create(ctx context.Context, cat catalog.Catalog, ident table.Identifier, sample string, st lake.Store, location string) (*table.Table, error) {
	asc, err := parquetSchema(sample)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", sample, err)
	}
	sc, err := table.ArrowSchemaToIcebergWithFreshIDs(asc, false)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", sample, err)
	}
	et, ok := sc.FindFieldByName("eventtime")
	if !ok {
		return nil, fmt.Errorf("schema of %s: no eventtime column", sample)
	}
	spec := iceberggo.NewPartitionSpec(iceberggo.PartitionField{SourceIDs: []int{et.ID}, FieldID: 1000, Name: "eventtime_day", Transform: iceberggo.DayTransform{}})
	var fields []table.SortField
	for _, name := range []string{"eventsource", "eventname", "eventtime"} {
		if c, ok := sc.FindFieldByName(name); ok {
			fields = append(fields, table.SortField{SourceIDs: []int{c.ID}, Transform: iceberggo.IdentityTransform{}, Direction: table.SortASC, NullOrder: table.NullsFirst})
		}
	}
	order, err := table.NewSortOrder(1, fields)
	if err != nil {
		return nil, err
	}
	if err := cat.CreateNamespace(ctx, catalog.ToIdentifier(Namespace), nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return nil, fmt.Errorf("namespace %s: %w", Namespace, err)
	}
	opts := []catalog.CreateTableOpt{catalog.WithPartitionSpec(&spec)}
	if location != "" {
		opts = append(opts, catalog.WithLocation(location))
	}
	return cat.CreateTable(ctx, ident, sc, append(opts,
		catalog.WithSortOrder(order),
		catalog.WithProperties(iceberggo.Properties{
			"format-version":     "2",
			"auditlake.store-id": st.ID,
			"auditlake.type":     st.Type,
		}))...)
}
