package iceberg

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/lake"
)

// claim checks that tbl, the table store st's name maps to, is st's (its auditlake.store-id
// property): two stores whose names map to one table name (Org-Trail and org_trail) must not
// replace each other's files, so the second is refused, naming the first. The table of a store
// that no longer exists (deleted, then a store of the same name created) is dropped — it holds
// no file since the deletion's last snapshot — and claim returns catalog.ErrNoSuchTable so the
// caller creates st's own; so is the table of a store renamed since (its name maps to another
// table now), which that store makes again under its new name (dropRenamed).
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
		if other.ID != owner {
			continue
		}
		if TableName(other.Name) == ident[len(ident)-1] {
			return fmt.Errorf("the table is store %s's (%s), whose name maps to the same table name: rename one of the stores", other.Name, other.ID)
		}
		if err := cat.DropTable(ctx, ident); err != nil {
			return fmt.Errorf("drop the table of store %s, renamed %s: %w", other.ID, other.Name, err)
		}
		return fmt.Errorf("the table of store %s, renamed %s, was dropped: %w", other.ID, other.Name, catalog.ErrNoSuchTable)
	}
	if err := cat.DropTable(ctx, ident); err != nil {
		return fmt.Errorf("drop the table of deleted store %s: %w", owner, err)
	}
	return fmt.Errorf("the table of deleted store %s was dropped: %w", owner, catalog.ErrNoSuchTable)
}

// dropRenamed drops store st's tables under names st had before a rename (eds update --name:
// the table name follows the store's name): the tables of the namespace that no store's name
// maps to and whose auditlake.store-id is st's. Left there, such a table kept naming the
// store's files after they were retired and deleted, and engines read it under the old name.
// The store's sync makes its table again under the new name, in one snapshot of its live
// files, as for a moved data directory; the old table's history is not carried over (renaming
// it would keep its location, the default location of a table under the old name, which a store
// of that name created later would share). A table that does not load (not Iceberg, another's)
// is left alone.
func dropRenamed(ctx context.Context, cat catalog.Catalog, lk *lake.Lake, st lake.Store) error {
	stores, err := lk.Stores()
	if err != nil {
		return err
	}
	mapped := map[string]bool{}
	for _, s := range stores {
		mapped[TableName(s.Name)] = true
	}
	// A catalog without the namespace yet (Glue's ListTables does not say so by
	// catalog.ErrNoSuchNamespace) has no table to drop.
	if exists, err := cat.CheckNamespaceExists(ctx, catalog.ToIdentifier(Namespace)); err != nil || !exists {
		return err
	}
	var others []table.Identifier
	for id, err := range cat.ListTables(ctx, catalog.ToIdentifier(Namespace)) {
		if err != nil {
			return err
		}
		if len(id) > 0 && !mapped[id[len(id)-1]] {
			others = append(others, id)
		}
	}
	for _, id := range others {
		if tbl, err := loadOwn(ctx, cat, id, lk.Dir); err == nil && tbl.Properties()["auditlake.store-id"] == st.ID {
			if err := cat.DropTable(ctx, id); err != nil && !errors.Is(err, catalog.ErrNoSuchTable) {
				return fmt.Errorf("drop %s, the table of store %s before it was renamed %s: %w", strings.Join(id, "."), st.ID, st.Name, err)
			}
		}
	}
	return nil
}
