package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/lake"
)

const catalogSetUsage = `Usage: auditlake catalog set sql|rest URI|glue|none [--region R] [--endpoint-url URL] [--database auditlake] [--warehouse LOCATION] [--token env:NAME|file:PATH] [--credential env:NAME|file:PATH] [--property KEY=VALUE]... [--keep-retired 24h]

Publishes every store as an Apache Iceberg table (format v2) over the store's own Parquet files,
named auditlake.<store name> ("-" becomes "_"), and keeps each table following its store: every
commit (ingest batch, compaction, purge) is one snapshot, and a store's deletion a last snapshot
without files. Files no longer live are kept --keep-retired, so queries in Athena, Trino or Spark
on an older snapshot keep their files. sql is the embedded SQLite catalog in the data directory,
the default: a data directory where no catalog was set has it, so every store is a table from
its first commit; rest an Iceberg REST catalog; glue the AWS Glue Data Catalog; none turns the tables
off (commits are no longer followed). Setting the catalog syncs every store at once (auditlake
catalog sync does it again).

A REST catalog's secrets are not taken on the command line: --token (a bearer token) and
--credential (an OAuth2 client credential client_id:client_secret) name the environment
variable (env:NAME) or the file (file:PATH) they are read from each time the catalog is opened;
only that name is kept. Glue takes the AWS credential chain (environment, profile, role).
--property passes further catalog properties (prefix, scope, rest.sigv4-enabled,
rest.signing-name, rest.signing-region, glue.id, ...).`

const catalogSyncUsage = `Usage: auditlake catalog sync [NAME|ID...]

Brings each store's Iceberg table up to the store in one snapshot (every store and the cost
tables without a NAME): what a crash between the store's commit and the table's, or a catalog
outage, left behind. It then deletes the table's metadata files (manifest lists, manifests,
old metadata files) that no snapshot and no metadata log names and that are older than the
--keep-retired window (at least an hour), locally or on the store's publication: what an
older version left when snapshots expired, or a crash between an expiry and its clean-up.
Each store with files deleted gets a line after the table.`

const catalogSetExamples = `  auditlake catalog set sql
  auditlake catalog set none
  auditlake catalog set rest https://polaris.example:8181/api/catalog --warehouse lake --credential env:POLARIS_CREDENTIAL
  auditlake catalog set rest https://s3tables.eu-west-1.amazonaws.com/iceberg --warehouse arn:aws:s3tables:eu-west-1:111122223333:bucket/lake --property rest.sigv4-enabled=true --property rest.signing-name=s3tables --property rest.signing-region=eu-west-1
  auditlake catalog set glue --region eu-west-1 --database auditlake`

// attached are the Iceberg hooks of the data directories this process opened, so that every
// openLake of one directory shares one catalog connection; a hook's warning goes to the standard
// error of the command that opened the directory last (commands run in one process in tests).
var attached struct {
	sync.Mutex
	hooks  map[string]*lake.Hooks
	stderr map[string]io.Writer
}

// icebergHooks are the hooks that keep the Iceberg tables of lk following its stores, nil when
// the tables are turned off (catalog set none).
func icebergHooks(env *Env, lk *lake.Lake) (*lake.Hooks, error) {
	attached.Lock()
	defer attached.Unlock()
	if attached.hooks == nil {
		attached.hooks, attached.stderr = map[string]*lake.Hooks{}, map[string]io.Writer{}
	}
	attached.stderr[lk.Dir] = env.Stderr
	if h, ok := attached.hooks[lk.Dir]; ok {
		return h, nil
	}
	dir := lk.Dir
	probe := &lake.Lake{Dir: lk.Dir}
	if _, err := iceberg.Attach(context.Background(), probe, func(err error) {
		attached.Lock()
		w := attached.stderr[dir]
		attached.Unlock()
		fmt.Fprintf(w, "auditlake: warning: the Iceberg table did not follow the commit (it catches up at the next one, or with auditlake catalog sync): %v\n", err)
	}); err != nil {
		return nil, err
	}
	attached.hooks[lk.Dir] = probe.Hooks
	return probe.Hooks, nil
}

func forgetIcebergHooks(dir string) {
	attached.Lock()
	delete(attached.hooks, dir)
	attached.Unlock()
}

func runCatalogSet(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "catalog set")
	region := fs.String("region", "", "the Glue catalog's region")
	endpoint := fs.String("endpoint-url", "", "the Glue endpoint (tests, VPC endpoints)")
	database := fs.String("database", iceberg.Namespace, "the namespace (Glue database) of the tables")
	warehouse := fs.String("warehouse", "", "where table metadata is written (default: the data directory's iceberg/warehouse)")
	keep := fs.String("keep-retired", "24h", "how long files no longer live are kept for older snapshots")
	token := fs.String("token", "", "the REST catalog's bearer token: env:NAME or file:PATH it is read from")
	credential := fs.String("credential", "", "the REST catalog's OAuth2 client credential (id:secret): env:NAME or file:PATH it is read from")
	var extra multiFlag
	fs.Var(&extra, "property", "a further catalog property KEY=VALUE (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("name the catalog type: sql, rest URI or glue")
	}
	// A local path is made an absolute file:// location here: kept as given, a relative one
	// would be resolved against each later command's working directory. (A REST catalog's
	// warehouse is a name the server knows.)
	if *warehouse != "" && pos[0] != "rest" && !strings.Contains(*warehouse, "://") {
		abs, err := filepath.Abs(*warehouse)
		if err != nil {
			return usagef("--warehouse %q: %v", *warehouse, err)
		}
		*warehouse = iceberg.FileURI(abs)
	}
	c := iceberg.Config{Type: pos[0], Region: *region, Endpoint: *endpoint, Database: *database, Warehouse: *warehouse, KeepRetired: *keep, Token: *token, Credential: *credential}
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--property %q: want KEY=VALUE", kv)
		}
		if c.Extra == nil {
			c.Extra = map[string]string{}
		}
		c.Extra[k] = v
	}
	switch {
	case c.Type == "rest" && len(pos) == 2:
		c.URI = pos[1]
	case len(pos) != 1:
		return usagef("catalog set %s takes %s", c.Type, map[bool]string{true: "one URI", false: "no other argument"}[c.Type == "rest"])
	}
	if err := c.Validate(); err != nil {
		return usagef("%v", err)
	}
	if c.Type == "none" {
		// A published store's commits upload their files through the catalog's follower, and
		// its older days may be on S3 only: its table cannot stop following it.
		lk, err := lake.Open(env.DataDir)
		if err != nil {
			return err
		}
		stores, err := lk.Stores()
		if err != nil {
			return err
		}
		for _, st := range stores {
			if p, ok, err := iceberg.LoadPublication(env.DataDir, st.ID); err != nil {
				return err
			} else if ok {
				return usagef("store %s is published to %s: its commits are uploaded with its table's snapshots, so the tables cannot be turned off", st.Name, p.To)
			}
		}
		if err := iceberg.SaveConfig(env.DataDir, iceberg.Config{Type: "none"}); err != nil {
			return err
		}
		forgetIcebergHooks(env.DataDir)
		fmt.Fprintln(env.Stdout, "catalog: none (commits are no longer followed by Iceberg snapshots; the tables written so far stay in their catalog)")
		return nil
	}
	// A catalog that cannot be opened (its secret unreadable, a REST catalog refusing the
	// credential or unreachable) is not set: the one set before stays. Opening a Glue catalog
	// contacts nothing, so Glue is asked whether the database exists (GetDatabase): no
	// credentials, a refused one or an unreachable endpoint leave the setting unchanged too,
	// as they do for REST.
	cat, err := openConfigured(ctx, env, c)
	if err == nil && c.Type == "glue" {
		if _, perr := cat.CheckNamespaceExists(ctx, catalog.ToIdentifier(c.Database)); perr != nil {
			err = fmt.Errorf("reach the Glue catalog (database %s): %w", c.Database, perr)
		}
	}
	if cat != nil {
		if cl, ok := cat.(catalog.Closer); ok {
			cl.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("%w (the catalog setting is unchanged)", err)
	}
	if err := iceberg.SaveConfig(env.DataDir, c); err != nil {
		return err
	}
	forgetIcebergHooks(env.DataDir)
	fmt.Fprintf(env.Stdout, "catalog: %s\n", c.Type)
	return runCatalogSync(ctx, env, nil)
}

func runCatalogShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "catalog show")
	output := formatFlag(fs, "text", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, ok, err := iceberg.LoadConfig(env.DataDir)
	if err != nil {
		return err
	}
	if !ok {
		return &NotFoundError{Msg: iceberg.NoCatalog}
	}
	if *output == "json" {
		return writeJSON(env.Stdout, c.ShowProperties(env.DataDir))
	}
	props := c.Properties(env.DataDir)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(tw, "%s:\t%s\n", k, props[k])
	}
	for _, ref := range []struct{ what, v string }{{"token", c.Token}, {"credential", c.Credential}} {
		if ref.v != "" {
			fmt.Fprintf(tw, "%s read from:\t%s\n", ref.what, ref.v)
		}
	}
	keep, _ := c.Keep()
	fmt.Fprintf(tw, "keep retired files:\t%s\n", keep)
	return tw.Flush()
}

func runCatalogSync(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "catalog sync")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	c, ok, err := iceberg.LoadConfig(env.DataDir)
	if err != nil {
		return err
	}
	if !ok {
		return &NotFoundError{Msg: iceberg.NoCatalog}
	}
	lk, err := lake.Open(env.DataDir)
	if err != nil {
		return err
	}
	cat, err := openConfigured(ctx, env, c)
	if err != nil {
		return err
	}
	stores, err := lk.Stores()
	if err != nil {
		return err
	}
	var picked []lake.Store
	if len(pos) == 0 {
		picked = stores
	}
	for _, name := range pos {
		st, err := lk.Resolve(name)
		if err != nil {
			return err
		}
		picked = append(picked, st)
	}
	keep, err := c.Keep()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tTABLE\tFILES\tADDED\tREMOVED\tSNAPSHOT")
	var failed, sweeps []string
	for _, st := range picked {
		w, err := lk.BeginWrite(st.ID) // the store's write lock: snapshots in commit order
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", st.Name, err))
			continue
		}
		res, err := iceberg.SyncStore(ctx, cat, lk, st)
		var swept iceberg.Swept
		var sweepErr error
		if err == nil {
			swept, sweepErr = iceberg.Sweep(ctx, cat, lk, st, keep)
		}
		w.Close()
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", st.Name, err))
			continue
		}
		if swept.Files > 0 {
			sweeps = append(sweeps, fmt.Sprintf("%s: deleted %d old metadata files no snapshot names (%s)", st.Name, swept.Files, humanBytes(swept.Bytes)))
		}
		if sweepErr != nil {
			failed = append(failed, fmt.Sprintf("%s: deleting old metadata files: %v", st.Name, sweepErr))
		}
		snap := "-"
		switch {
		case res.SnapshotID != 0:
			snap = fmt.Sprint(res.SnapshotID)
		case res.Pending:
			snap = "- (no table until eds publish: the catalog has no warehouse)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", st.Name, res.Table, res.Files, res.Added, res.Removed, snap)
	}
	if len(pos) == 0 { // every store, the deleted ones whose tables did not follow, and the cost tables
		emptied, err := iceberg.EmptyDeleted(ctx, cat, lk)
		for _, t := range emptied {
			fmt.Fprintf(tw, "-\t%s\temptied (its store was deleted)\t\t\t\n", t)
		}
		if err != nil {
			failed = append(failed, err.Error())
		}
		costs, err := iceberg.SyncCosts(ctx, cat, env.DataDir)
		writeCostSyncs(tw, env, costs)
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range sweeps {
		fmt.Fprintln(env.Stdout, l)
	}
	if len(failed) > 0 {
		return fmt.Errorf("iceberg sync failed for %s", strings.Join(failed, "; "))
	}
	return nil
}

// writeCostSyncs writes catalog sync's rows of the cost tables, and the files a table left out
// to stderr.
func writeCostSyncs(tw io.Writer, env *Env, costs []iceberg.CostResult) {
	for _, c := range costs {
		if c.Dropped {
			fmt.Fprintf(tw, "-\t%s\tdropped (its cost table is no longer registered)\t\t\t\n", c.Table)
			continue
		}
		snap := "-"
		switch {
		case c.SnapshotID != 0:
			snap = fmt.Sprint(c.SnapshotID)
		case c.Pending:
			snap = "- (no table: the catalog has no warehouse)"
		}
		fmt.Fprintf(tw, "cost %s\t%s\t%d\t%d\t%d\t%s\n", c.Name, c.Table, c.Files, c.Added, c.Removed, snap)
		for _, l := range c.Left {
			fmt.Fprintf(env.Stderr, "auditlake: warning: %s: not in the Iceberg table: %s\n", c.Table, l)
		}
	}
}

// catalogCosts brings the cost tables' Iceberg tables up to the registry after cur register or
// cur remove, unless the tables are turned off; a failure is a warning (the registration stands; catalog
// sync catches up).
func catalogCosts(ctx context.Context, env *Env) {
	cat, ok, err := openCatalog(ctx, env)
	if err == nil && ok {
		var costs []iceberg.CostResult
		costs, err = iceberg.SyncCosts(ctx, cat, env.DataDir)
		for _, c := range costs {
			switch {
			case c.Dropped:
				fmt.Fprintf(env.Stdout, "  iceberg:  %s dropped\n", c.Table)
			case c.Files > 0:
				fmt.Fprintf(env.Stdout, "  iceberg:  %s (%s)\n", c.Table, plural(c.Files, "file", "files"))
			}
			for _, l := range c.Left {
				fmt.Fprintf(env.Stderr, "auditlake: warning: %s: not in the Iceberg table: %s\n", c.Table, l)
			}
		}
		if cl, ok := cat.(catalog.Closer); ok {
			cl.Close()
		}
	} else if err != nil {
		// The catalog could not be opened: every cost table is behind (cur show says so).
		iceberg.RecordCostsFailed(env.DataDir, err)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "auditlake: warning: the cost tables' Iceberg tables did not follow (auditlake catalog sync catches up): %v\n", err)
	}
}

// openCatalog opens the data directory's Iceberg catalog; ok is false when none is set.
func openCatalog(ctx context.Context, env *Env) (cat catalog.Catalog, ok bool, err error) {
	c, ok, err := iceberg.LoadConfig(env.DataDir)
	if err != nil || !ok {
		return nil, false, err
	}
	cat, err = openConfigured(ctx, env, c)
	return cat, err == nil, err
}

// openConfigured opens the catalog c, with its secrets.
func openConfigured(ctx context.Context, env *Env, c iceberg.Config) (catalog.Catalog, error) {
	props, err := c.OpenProperties(env.DataDir)
	if err != nil {
		return nil, err
	}
	cat, err := iceberg.Open(ctx, props)
	if err != nil {
		return nil, fmt.Errorf("open the iceberg catalog (%s): %w", c.Type, err)
	}
	return cat, nil
}

const athenaDDLUsage = `Usage: auditlake athena ddl [--location s3://BUCKET/PREFIX/] NAME|ID

Prints the Athena DDL for a store's Iceberg table, for users without Glue access to auditlake's
catalog: CREATE TABLE … TBLPROPERTIES ('table_type'='ICEBERG') at the location the table is
published to, a view auditlake.eds_<id> that queries written for CloudTrail Lake can name
instead of "aws:cloudtrail"."<id>" (not valid in Athena), and a plain Parquet table with
partition projection by day over the data files. Needs the store's Iceberg table (catalog set).
The location is where the store is published (eds publish); --location names it for a store
whose files are copied to S3 some other way.`

// athenaPlaceholder starts the LOCATION athena ddl prints for a store not published to S3.
const athenaPlaceholder = "s3://your-bucket/auditlake/"

func runAthenaDDL(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "athena ddl")
	location := fs.String("location", "", "the s3:// prefix the store's table files are in (default: where eds publish published it)")
	_, s, err := storeArg(env, fs, args, "athena ddl")
	if err != nil {
		return err
	}
	if *location == "" {
		p, ok, err := iceberg.LoadPublication(env.DataDir, s.ID)
		if err != nil {
			return err
		}
		if ok {
			*location = p.To
		} else {
			// The DDL is printed all the same, at a location to replace: Athena reads the
			// files from S3 only, and where they will be is the user's to say.
			*location = athenaPlaceholder + iceberg.TableName(s.Name) + "/"
			fmt.Fprintf(env.Stderr, "auditlake: warning: store %s is not published to S3, so the DDL's LOCATION %s is a placeholder: publish the store (auditlake eds publish %s --to s3://BUCKET/PREFIX/) and print it again, or name the prefix its files are in with --location\n", s.Name, *location, s.Name)
		}
	}
	cat, ok, err := openCatalog(ctx, env)
	if err != nil {
		return err
	}
	if !ok {
		return &NotFoundError{Msg: iceberg.NoCatalog}
	}
	tbl, err := iceberg.LoadTable(ctx, cat, s)
	if err != nil {
		return &NotFoundError{Msg: err.Error()}
	}
	ddl, err := iceberg.AthenaDDL(tbl, s, *location)
	if err != nil {
		return usagef("%v", err)
	}
	_, err = fmt.Fprint(env.Stdout, ddl)
	return err
}
