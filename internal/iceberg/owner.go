package iceberg

import (
	"context"
	"fmt"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/lake"
)

// claim checks that tbl, the table store st's name maps to, is st's (its auditlake.store-id
// property): two stores whose names map to one table name (Org-Trail and org_trail) must not
// replace each other's files, so the second is refused, naming the first. The table of a store
// that no longer exists (deleted, then a store of the same name created) is dropped — it holds
// no file since the deletion's last snapshot — and claim returns catalog.ErrNoSuchTable so the
// caller creates st's own.
func claim(ctx context.Context, cat catalog.Catalog, lk *lake.Lake, st lake.Store, ident table.Identifier, tbl *table.Table) error {
	owner := tbl.Properties()["auditlake.store-id"]
	if owner == "" || owner == st.ID {
		return nil
	}
	stores, err := lk.Stores()
	if err != nil {
		return err
	}
	for _, other := range stores {
		if other.ID == owner {
			return fmt.Errorf("the table is store %s's (%s), whose name maps to the same table name: rename one of the stores", other.Name, other.ID)
		}
	}
	if err := cat.DropTable(ctx, ident); err != nil {
		return fmt.Errorf("drop the table of deleted store %s: %w", owner, err)
	}
	return fmt.Errorf("the table of deleted store %s was dropped: %w", owner, catalog.ErrNoSuchTable)
}
