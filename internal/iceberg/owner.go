package iceberg

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/lake"
)

// claim checks that tbl, the table store st's name maps to, is st's (its auditlake.store-id
// property): two stores whose names map to one table name (Org-Trail and org_trail) must not
// replace each other's files, so the second is refused, naming the first. The table of a store
// that no longer exists (deleted, then a store of the same name created) is dropped — it holds
// no file since the deletion's last snapshot — and claim returns catalog.ErrNoSuchTable so the
// caller creates st's own (in a REST or Glue catalog only when its files are this data
// directory's: a table there may be another installation's store's, which is refused); so is the table of a store renamed since (its name maps to another
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
	// No store of this data directory: a deleted one's, or, in a REST or Glue catalog that
	// several installations share, another installation's store of the same name, whose table
	// must not be dropped. A deleted store's table names no file (its deletion's last snapshot)
	// or only its files here.
	if cat.CatalogType() != catalog.SQL {
		files, err := Files(ctx, tbl)
		if err != nil {
			return err
		}
		pubs, err := Publications(lk.Dir)
		if err != nil {
			return err
		}
		if len(files) > 0 && !storeFiles(files, lk, owner, pubs) {
			return fmt.Errorf("the table is store %s's, of another installation sharing the catalog (its files are not under this data directory): rename one of the stores", owner)
		}
	}
	if err := cat.DropTable(ctx, ident); err != nil {
		return fmt.Errorf("drop the table of deleted store %s: %w", owner, err)
	}
	return fmt.Errorf("the table of deleted store %s was dropped: %w", owner, catalog.ErrNoSuchTable)
}

// storeFiles says whether every file of files (data file paths) is store id's of lk: under
// its directory, or under its publication in pubs.
func storeFiles(files map[string]bool, lk *lake.Lake, id string, pubs map[string]Publication) bool {
	pub, published := pubs[id]
	for p := range files {
		local, isLocal := LocalPath(p)
		if !(isLocal && within(local, lk.StoreDir(id)) || published && strings.HasPrefix(p, pub.Location()+"/")) {
			return false
		}
	}
	return true
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

// EmptyDeleted catches up the deletions of stores that their tables did not follow (deleted
// while the tables were turned off, catalog set none, or while the catalog failed: lake.Delete
// goes on whatever its Deleting hook says): such a table kept naming the deleted files for good,
// and a published store's objects and publication stayed on S3. Each table of the namespace
// whose auditlake.store-id is no store of lk any more and whose current snapshot names only
// that store's files — under its directory in lk, or under its recorded publication — gets its
// last snapshot without files, as Empty commits it; then the publications of stores that are
// gone are undone (Unpublish: their objects deleted). A table whose files are not this data
// directory's (another installation's, in a shared catalog) is left alone, as is one that does
// not load. It returns the tables emptied, in name order.
func EmptyDeleted(ctx context.Context, cat catalog.Catalog, lk *lake.Lake) ([]string, error) {
	stores, err := lk.Stores()
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, s := range stores {
		live[s.ID] = true
	}
	pubs, err := Publications(lk.Dir)
	if err != nil {
		return nil, err
	}
	for _, p := range pubs {
		ctx = p.withS3(ctx) // one S3 configuration for every publication (SavePublication)
		break
	}
	var emptied []string
	var errs []error
	failed := map[string]bool{} // stores whose table could not be emptied: publication kept
	if exists, err := cat.CheckNamespaceExists(ctx, catalog.ToIdentifier(Namespace)); err != nil {
		return nil, err
	} else if exists {
		var ids []table.Identifier
		for id, err := range cat.ListTables(ctx, catalog.ToIdentifier(Namespace)) {
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b table.Identifier) int { return strings.Compare(strings.Join(a, "."), strings.Join(b, ".")) })
		for _, id := range ids {
			tbl, err := cat.LoadTable(ctx, id)
			if err != nil {
				continue
			}
			owner := tbl.Properties()["auditlake.store-id"]
			if owner == "" || live[owner] || tbl.CurrentSnapshot() == nil {
				continue
			}
			files, err := Files(ctx, tbl)
			if err != nil {
				failed[owner] = true
				errs = append(errs, fmt.Errorf("iceberg table %s: %w", strings.Join(id, "."), err))
				continue
			}
			if len(files) == 0 || !storeFiles(files, lk, owner, pubs) {
				continue
			}
			if _, _, _, err := commitFiles(ctx, tbl, nil, iceberggo.Properties{"auditlake.store-id": owner, "auditlake.deleted": "true"}); err != nil {
				failed[owner] = true
				errs = append(errs, fmt.Errorf("iceberg table %s: %w", strings.Join(id, "."), err))
				continue
			}
			emptied = append(emptied, strings.Join(id, "."))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(pubs)) {
		if !live[id] && !failed[id] {
			if err := Unpublish(ctx, lk, lake.Store{ID: id, Name: id}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return emptied, errors.Join(errs...)
}
