package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/iceberg"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/selector"
)

func openLake(env *Env) (*lake.Lake, error) {
	lk, err := lake.Open(env.DataDir)
	if err != nil {
		return nil, err
	}
	hooks, err := icebergHooks(env, lk)
	if err != nil {
		return nil, err
	}
	lk.Hooks = hooks
	return lk, nil
}

// resolveStore finds a store by name or id, with a hint when it does not exist.
func resolveStore(lk *lake.Lake, nameOrID string) (lake.Store, error) {
	s, err := lk.Resolve(nameOrID)
	if errors.Is(err, lake.ErrNotFound) {
		return s, &HintError{Err: err, Hint: "list stores with: auditlake eds list"}
	}
	return s, err
}

type storeView struct {
	// Iceberg is the store's Iceberg table (eds show, unless the tables are turned off).
	Iceberg *iceberg.TableInfo `json:"iceberg,omitempty"`
	// Published is the store's S3 home (eds publish).
	Published *iceberg.Publication `json:"published,omitempty"`
	// RemoteFiles are the store's files kept on S3 only (eds publish --local-days), CacheBytes
	// the size of its cache of fetched copies.
	RemoteFiles int   `json:"remote_files,omitempty"`
	CacheBytes  int64 `json:"cache_bytes,omitempty"`
	// IcebergBehind is the last failed sync of the table, while it is behind the store.
	IcebergBehind *iceberg.SyncError `json:"iceberg_behind,omitempty"`
	// IcebergError says why the catalog could not describe the table (unreachable, refused).
	IcebergError string `json:"iceberg_error,omitempty"`
	lake.Store
	Events int64      `json:"events"`
	Bytes  int64      `json:"bytes"`
	Files  int        `json:"files"`
	First  *time.Time `json:"first_event,omitempty"`
	Last   *time.Time `json:"last_event,omitempty"`
	// Status is "ok" or "damaged" (Problem or DamagedFiles say why; eds repair recovers it).
	Status       string            `json:"status"`
	Problem      string            `json:"problem,omitempty"`
	DamagedFiles []lake.FileDamage `json:"damaged_files,omitempty"`
}

// viewOf describes a store: its size from the manifest and its health (lake.CheckStore). A
// damaged store is described, not an error: the caller decides.
func viewOf(lk *lake.Lake, s lake.Store) storeView {
	m, h := lk.CheckStore(s.ID)
	v := storeView{Store: s, Status: h.Status, Problem: h.Problem, DamagedFiles: h.DamagedFiles}
	if m == nil {
		return v
	}
	v.Events, v.Bytes, v.Files = m.Rows(), m.Bytes(), len(m.Files)
	for _, f := range m.Files {
		if v.First == nil || f.MinTime.Before(*v.First) {
			t := f.MinTime
			v.First = &t
		}
		if v.Last == nil || f.MaxTime.After(*v.Last) {
			t := f.MaxTime
			v.Last = &t
		}
	}
	return v
}

func runEDSCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds create")
	retention := fs.Int("retention-days", lake.DefaultRetentionDays, "days events are kept, 7-3653 (measured on eventtime)")
	typ := fs.String("type", lake.TypeCloudTrail, "store type: cloudtrail, config or activity")
	protect := fs.Bool("termination-protection", false, "refuse 'eds delete' until protection is turned off")
	output := formatFlag(fs, "text", "json") // text: the id alone
	selectors := fs.String("advanced-event-selectors", "", "selectors as JSON, or @FILE (AWS CLI form); events they leave out are not ingested")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("eds create takes one NAME")
	}
	sels, err := readSelectors(*selectors)
	if err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	s, err := lk.Create(pos[0], lake.CreateOptions{Type: *typ, RetentionDays: *retention, TerminationProtection: *protect})
	if err != nil {
		return err
	}
	if sels != nil {
		if s, err = lk.Update(s.ID, func(st *lake.Store) error { st.Selectors = sels; return nil }); err != nil {
			return err
		}
	}
	switch *output {
	case "json":
		return writeJSON(env.Stdout, map[string]any{"id": s.ID, "name": s.Name, "type": s.Type,
			"retention_days": s.RetentionDays, "termination_protection": s.TerminationProtection})
	default:
		fmt.Fprintln(env.Stdout, s.ID)
	}
	return nil
}

func runEDSList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds list")
	output := formatFlag(fs, "table", "json")
	all := fs.Bool("all", false, "also list the built-in stores ("+lake.AuditStore+", "+lake.AlertsStore+")")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	stores, err := lk.Stores()
	if err != nil {
		return err
	}
	var views []storeView
	for _, s := range stores {
		if s.Builtin() && !*all {
			continue
		}
		views = append(views, viewOf(lk, s))
	}
	if *output == "json" {
		if views == nil {
			views = []storeView{}
		}
		return writeJSON(env.Stdout, views)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tRETENTION\tPROTECTED\tEVENTS\tSIZE\tSTATUS")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%dd\t%v\t%d\t%s\t%s\n", v.ID, v.Name, v.Type, v.RetentionDays, v.TerminationProtection, v.Events, humanBytes(v.Bytes), v.Status)
	}
	return tw.Flush()
}

func runEDSShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds show")
	output := formatFlag(fs, "text", "json")
	lk, s, err := storeArg(env, fs, args, "eds show")
	if err != nil {
		return err
	}
	v := viewOf(lk, s)
	// A catalog that cannot be reached is said, not an error: the store is there to show.
	if cat, ok, err := openCatalog(ctx, env); err != nil {
		v.IcebergError = err.Error()
	} else if ok {
		info, has, err := iceberg.Describe(ctx, cat, s)
		if err != nil {
			v.IcebergError = fmt.Sprintf("iceberg table of %s: %v", s.Name, err)
		} else if has {
			v.Iceberg = &info
		}
		if e, behind := iceberg.LastSyncError(env.DataDir, s.ID); behind {
			v.IcebergBehind = &e
		} else if m, err := lk.ReadManifest(s.ID); err == nil && has && !info.Follows(m) {
			// No sync failed, yet the table is not the store: a sync was cut off (a crash
			// between the two commits) or is still running.
			v.IcebergBehind = &iceberg.SyncError{At: m.CommittedAt,
				Error: fmt.Sprintf("its snapshot holds %d files, not the store's %d live ones (a sync cut off, as by a crash, or still running)", info.Files, len(m.Files))}
		}
	}
	if p, ok, err := iceberg.LoadPublication(env.DataDir, s.ID); err != nil {
		return err
	} else if ok {
		v.Published = &p
		if r, err := lk.ReadRemote(s.ID); err == nil {
			v.RemoteFiles = len(r.Files)
		}
		v.CacheBytes, _ = lk.CacheUsage(s.ID)
	}
	if *output == "json" {
		if err := writeJSON(env.Stdout, v); err != nil {
			return err
		}
		return damaged(v)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\nname:\t%s\ntype:\t%s\nretention:\t%d days\ntermination protection:\t%v\n", v.ID, v.Name, v.Type, v.RetentionDays, v.TerminationProtection)
	fmt.Fprintf(tw, "status:\t%s\n", v.Status)
	for _, d := range v.DamagedFiles {
		fmt.Fprintf(tw, "damaged file:\t%s (%s)\n", d.Path, d.Problem)
	}
	fmt.Fprintf(tw, "events:\t%d\nfiles:\t%d\nsize:\t%s\n", v.Events, v.Files, humanBytes(v.Bytes))
	if v.First != nil {
		fmt.Fprintf(tw, "first event:\t%s\nlast event:\t%s\n", v.First.Format(time.RFC3339), v.Last.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "table:\t\"aws:cloudtrail\".\"%s\"\ncreated:\t%s\n", v.ID, v.CreatedAt.Format(time.RFC3339))
	if t := v.Iceberg; t != nil {
		fmt.Fprintf(tw, "iceberg:\ttable %s, snapshot %d, %d files, %s\n", t.Table, t.SnapshotID, t.Files, humanBytes(t.Bytes))
	}
	if p := v.Published; p != nil {
		fmt.Fprintf(tw, "published:\t%s (since %s)\n", p.To, p.PublishedAt.Format(time.RFC3339))
		if p.LocalDays > 0 {
			cache := p.CacheBytes
			if cache == 0 {
				cache = lake.DefaultCacheBytes
			}
			fmt.Fprintf(tw, "local days:\t%d (days from %s on the local disk; %d files on S3 only; cache %s of %s)\n",
				p.LocalDays, iceberg.LocalCutoff(time.Now(), p.LocalDays), v.RemoteFiles, humanBytes(v.CacheBytes), humanBytes(cache))
		}
	}
	if v.IcebergError != "" {
		fmt.Fprintf(tw, "iceberg:\tunavailable: %s\n", v.IcebergError)
	}
	if e := v.IcebergBehind; e != nil {
		fmt.Fprintf(tw, "iceberg behind:\tthe table did not follow the store's last commit (%s): %s — it catches up at the next commit or with auditlake catalog sync\n", e.At.Format(time.RFC3339), e.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return damaged(v)
}

// damaged is the error of a damaged store shown by eds show (exit 4: a check found it not
// valid), naming what is wrong and the repair.
func damaged(v storeView) error {
	if v.Status != lake.StatusDamaged {
		return nil
	}
	if v.Problem != "" {
		return &InvalidError{Msg: v.Problem}
	}
	return &InvalidError{Msg: lake.Health{Status: v.Status, DamagedFiles: v.DamagedFiles}.Err(v.Name).Error()}
}

func runEDSRepair(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds repair")
	output := fs.String("output", "text", "text or json")
	lk, s, err := storeArg(env, fs, args, "eds repair")
	if err != nil {
		return err
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "1GB", TempDir: lk.TempDir()})
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := lk.Repair(ctx, db, s.ID)
	if err != nil {
		return fmt.Errorf("repair %s: %w", s.Name, err)
	}
	if *output == "json" {
		return writeJSON(env.Stdout, map[string]any{"store": s.Name, "id": s.ID, "from_manifest": res.FromManifest,
			"files": res.Files, "events": res.Rows, "dropped": orEmpty(res.Dropped), "quarantined": orEmpty(res.Quarantined),
			"facts_computed": res.FactsComputed, "state_segments": res.Segments, "unaccounted": orEmpty(res.Unaccounted),
			"duplicates": res.Duplicates, "state_cleared": res.StateCleared, "version": res.Manifest.Version})
	}
	how := "rebuilt its manifest from the files on disk"
	if res.FromManifest {
		how = "checked the files its manifest names"
	}
	fmt.Fprintf(env.Stdout, "%s: %s: %d files, %d events, %d ingest-state segments (manifest version %d)\n",
		s.Name, how, res.Files, res.Rows, res.Segments, res.Manifest.Version)
	for _, d := range res.Dropped {
		fmt.Fprintf(env.Stdout, "%s: dropped %s: %s\n", s.Name, d.Path, d.Problem)
	}
	for _, q := range res.Quarantined {
		fmt.Fprintf(env.Stdout, "%s: moved to %s\n", s.Name, filepath.Join(lk.StoreDir(s.ID), filepath.FromSlash(q)))
	}
	if res.FactsComputed > 0 {
		fmt.Fprintf(env.Stdout, "%s: computed the EC2 lifecycle facts of %d files\n", s.Name, res.FactsComputed)
	}
	for _, u := range res.Unaccounted {
		fmt.Fprintf(env.Stdout, "%s: left in place, named by no manifest: %s\n", s.Name, u)
	}
	if res.StateCleared {
		fmt.Fprintf(env.Stdout, "%s: the ingest state was cleared: the next ingest reads every source again and adds back the events of the dropped files\n", s.Name)
	}
	if res.Duplicates > 0 {
		fmt.Fprintf(env.Stdout, "%s: %d events are stored in more than one file\n", s.Name, res.Duplicates)
	}
	if len(res.Dropped) > 0 {
		return &PartialError{Msg: fmt.Sprintf("%s repaired without %d files (listed above); re-ingest their sources to restore their events", s.Name, len(res.Dropped))}
	}
	return nil
}

// orEmpty is s, or an empty slice where s is nil (JSON [] rather than null).
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func runEDSUpdate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds update")
	retention := fs.Int("retention-days", 0, "new retention in days, 7-3653")
	protect := fs.String("termination-protection", "", "on or off")
	name := fs.String("name", "", "new name")
	yes := fs.Bool("yes", false, "confirm a lower retention (events older than it are deleted now)")
	selectors := fs.String("advanced-event-selectors", "", "new selectors as JSON or @FILE; '[]' removes them")
	localDays := fs.Int("local-days", -1, "published store: keep only the last N days on the local disk (0: every day)")
	cacheSize := byteSize(-1)
	fs.Var(&cacheSize, "cache-size", "published store: bound of the cache of days fetched from S3")
	lk, s, err := storeArg(env, fs, args, "eds update")
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["local-days"] || given["cache-size"] {
		if *retention != 0 || *protect != "" || *name != "" || *selectors != "" {
			return usagef("--local-days and --cache-size are changed alone")
		}
		if !given["local-days"] {
			p, ok, err := iceberg.LoadPublication(lk.Dir, s.ID)
			if err != nil {
				return err
			}
			*localDays = p.LocalDays
			if !ok {
				*localDays = 0
			}
		}
		return setLocalDays(ctx, env, lk, s, *localDays, int64(cacheSize))
	}
	if *retention != 0 {
		if err := lake.ValidateRetention(*retention); err != nil {
			return err
		}
		if *retention < s.RetentionDays && !*yes {
			return &HintError{Err: fmt.Errorf("lowering retention from %d to %d days deletes events older than %d days", s.RetentionDays, *retention, *retention),
				Hint: "add --yes to confirm"}
		}
	}
	var on *bool
	switch strings.ToLower(*protect) {
	case "":
	case "on", "true", "enabled":
		t := true
		on = &t
	case "off", "false", "disabled":
		f := false
		on = &f
	default:
		return usagef("--termination-protection takes on or off, not %q", *protect)
	}
	sels, err := readSelectors(*selectors)
	if err != nil {
		return err
	}
	lowered := *retention != 0 && *retention < s.RetentionDays
	if *name != "" {
		if _, err := lk.Resolve(*name); err == nil {
			return fmt.Errorf("an event data store named %q already exists", *name)
		}
	}
	s, err = lk.Update(s.ID, func(st *lake.Store) error {
		if *retention != 0 {
			st.RetentionDays = *retention
		}
		if on != nil {
			st.TerminationProtection = *on
		}
		if *name != "" {
			st.Name = *name
		}
		if sels != nil {
			st.Selectors = sels
		}
		return nil
	})
	if err != nil {
		return err
	}
	if lowered {
		res, err := purgeStore(ctx, lk, s)
		if err != nil {
			return fmt.Errorf("retention lowered, but purging older events failed (run auditlake eds purge %s): %w", s.Name, err)
		}
		fmt.Fprintf(env.Stdout, "purged %s older than %s\n", plural(int(res.Events), "event", "events"), res.Cutoff.Format(time.RFC3339))
	}
	fmt.Fprintf(env.Stdout, "updated %s (%s): retention %d days, termination protection %v\n", s.Name, s.ID, s.RetentionDays, s.TerminationProtection)
	return nil
}

func runEDSDelete(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds delete")
	yes := fs.Bool("yes", false, "confirm: the store and all its events are deleted")
	lk, s, err := storeArg(env, fs, args, "eds delete")
	if err != nil {
		return err
	}
	// What would go on writing to the store, and protection, are said first: --yes would not help.
	if err := storeInUse(env, lk, s); err != nil {
		return err
	}
	if !*yes && !s.TerminationProtection {
		return &HintError{Err: fmt.Errorf("deleting store %s deletes all its events and files", s.Name), Hint: "add --yes to confirm"}
	}
	if err := lk.Delete(s.ID); err != nil {
		if errors.Is(err, lake.ErrProtected) {
			return &HintError{Err: err, Hint: "turn it off first: auditlake eds update " + s.Name + " --termination-protection off"}
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted %s (%s)\n", s.Name, s.ID)
	return nil
}

// storeInUse is an error naming what would go on writing to store s once it is deleted —
// channels that send events to it, sources that collect into it — with the commands that
// remove them; nil when nothing does. (A source left behind would fail at every poll; a
// channel's calls would fail.)
func storeInUse(env *Env, lk *lake.Lake, s lake.Store) error {
	chs, err := integration.Channels(lk)
	if err != nil {
		return fmt.Errorf("list channels: %w", err)
	}
	srcs, err := collect.Open(env.DataDir).List()
	if err != nil {
		return fmt.Errorf("list sources: %w", err)
	}
	var uses, fixes []string
	for _, ch := range chs {
		if ch.StoreID == s.ID {
			uses, fixes = append(uses, "channel "+ch.Name+" sends events to it"), append(fixes, "auditlake channel delete "+ch.Name)
		}
	}
	for _, src := range srcs {
		if src.Type != collect.TypeCUR && src.StoreID == s.ID {
			uses, fixes = append(uses, "source "+src.Name+" collects into it"), append(fixes, "auditlake source remove "+src.Name)
		}
	}
	if len(uses) == 0 {
		return nil
	}
	return &HintError{Err: fmt.Errorf("cannot delete store %s: %s", s.Name, strings.Join(uses, "; ")),
		Hint: "remove them first: " + strings.Join(fixes, "; ")}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// readSelectors reads --advanced-event-selectors: "" (unchanged), JSON, or @FILE.
func readSelectors(v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	data := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read selectors: %w", err)
		}
		data = b
	}
	sels, err := selector.Parse(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(sels)
}

// purgeStore deletes a store's events older than its retention, atomically.
func purgeStore(ctx context.Context, lk *lake.Lake, s lake.Store) (lake.PurgeResult, error) {
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		return lake.PurgeResult{}, err
	}
	defer w.Close()
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "640MB", TempDir: lk.TempDir()})
	if err != nil {
		return lake.PurgeResult{}, err
	}
	defer db.Close()
	return lake.Purge(ctx, db, w, s, time.Now())
}

func runEDSPurge(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds purge")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	var stores []lake.Store
	if len(pos) == 0 {
		if stores, err = lk.Stores(); err != nil {
			return err
		}
	}
	for _, name := range pos {
		s, err := resolveStore(lk, name)
		if err != nil {
			return err
		}
		stores = append(stores, s)
	}
	// A store that cannot be purged (damaged) does not keep the others from their retention.
	var failed []error
	for _, s := range stores {
		res, err := purgeStore(ctx, lk, s)
		if err != nil {
			failed = append(failed, fmt.Errorf("purge %s: %w", s.Name, err))
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: purged %s older than %s (%s dropped, %d rewritten)\n",
			s.Name, plural(int(res.Events), "event", "events"), res.Cutoff.Format(time.RFC3339), plural(res.FilesDropped, "file", "files"), res.FilesRewitten)
	}
	return errors.Join(failed...)
}

func runEDSCompact(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "eds compact")
	lk, s, err := storeArg(env, fs, args, "eds compact")
	if err != nil {
		return err
	}
	w, err := lk.BeginWrite(s.ID)
	if err != nil {
		return err
	}
	defer w.Close()
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "1GB", TempDir: lk.TempDir()})
	if err != nil {
		return err
	}
	defer db.Close()
	before, stale := len(w.Manifest().Files), w.Manifest().FilesWithoutFacts()
	merged, err := lake.Compact(ctx, db, w, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: merged %s; %s before, %d after\n", s.Name, plural(merged, "file", "files"), plural(before, "file", "files"), len(w.Manifest().Files))
	if stale > 0 && s.Type == lake.TypeCloudTrail {
		fmt.Fprintf(env.Stdout, "%s: computed the EC2 lifecycle facts of %s written before auditlake kept them\n", s.Name, plural(stale, "file", "files"))
	}
	return nil
}

// storeArg parses a command's flags and its one NAME|ID argument, and resolves the store.
func storeArg(env *Env, fs *flag.FlagSet, args []string, cmd string) (*lake.Lake, lake.Store, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, lake.Store{}, err
	}
	if len(pos) != 1 {
		return nil, lake.Store{}, usagef("%s takes one NAME or ID", cmd)
	}
	lk, err := openLake(env)
	if err != nil {
		return nil, lake.Store{}, err
	}
	s, err := resolveStore(lk, pos[0])
	return lk, s, err
}
