package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/cost"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/metrics"
	"github.com/auditlake/auditlake/internal/objstore"
	"github.com/auditlake/auditlake/internal/server"
)

const sourceAddUsage = `Usage: auditlake source add NAME (--eds STORE | --type cur --table DATABASE.TABLE) [S3URI] [--every D]
       [--type cloudtrail|config|cur] [--sqs-queue-url URL] [--profile P] [--region R] [--endpoint-url URL] [--from T]

Declares a source that 'auditlake collect' (and 'serve', unless --no-collect) keeps collected:
  cloudtrail  a trail's bucket prefix (s3://bucket/AWSLogs/, …/AWSLogs/o-ORG/, one account or region): each
              AWSLogs/<account>/CloudTrail/<region>/ prefix is listed after the last key committed from it,
              plus yesterday's and today's day folders for late deliveries; new accounts and regions are
              found by folder listings every 10 polls.
  config      AWS Config's delivery prefix, by its year/month/day folders (yesterday's and today's).
  cur         a cost report's prefix: registered again (as 'cur register') when a billing period's
              manifest or files change.
With --sqs-queue-url, the queue's S3 event notifications (direct, through SNS or EventBridge) or
CloudTrail's SNS notifications name the files to ingest, and the message is deleted after the commit
that holds them; S3URI, if given, is polled too (every --every, default 5m) to catch what notifications
missed. Files go through the same pipeline as 'ingest' (dedupe, retention, the store's selectors, --from).`

const sourceAddExamples = `  auditlake source add org-trail --eds prod-trail s3://org-trail-bucket/AWSLogs/o-abc123/ --every 1m
  auditlake source add org-config --eds config-store --type config s3://config-bucket/AWSLogs/ --every 5m
  auditlake source add billing --type cur --table cur.cur_2026 s3://billing/cur/my-report/ --every 6h
  auditlake source add trail-queue --eds prod-trail --sqs-queue-url https://sqs.us-east-1.amazonaws.com/123456789012/trail-events`

func runSourceAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "source add")
	eds := fs.String("eds", "", "event data store name or id (cloudtrail and config sources)")
	typ := fs.String("type", collect.TypeCloudTrail, "cloudtrail, config or cur")
	table := fs.String("table", "", "cur sources: the cost table DATABASE.TABLE")
	queue := fs.String("sqs-queue-url", "", "SQS queue of S3 event or CloudTrail notifications")
	every := fs.Duration("every", 0, "polling interval (default 1m; 5m for the reconciling poll of a queue source)")
	from := fs.String("from", "", "collect only events at or after this date/time (UTC)")
	s3 := addS3Flags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("source add takes NAME and an s3:// URI (the URI may be left out with --sqs-queue-url)")
	}
	src := collect.Source{Name: pos[0], Type: *typ, QueueURL: *queue, Profile: *s3.profile, Region: *s3.region,
		EndpointURL: *s3.endpoint, Created: time.Now().UTC()}
	if err := collect.ValidName(src.Name); err != nil {
		return usagef("%v", err)
	}
	if len(pos) == 2 {
		src.URI = pos[1]
		if b, _, err := objstore.SplitS3(src.URI); err != nil || b == "" {
			return usagef("%q is not an s3://bucket/prefix URI", src.URI)
		}
	}
	if src.URI == "" && src.QueueURL == "" {
		return usagef("name an s3://bucket/prefix to poll, or --sqs-queue-url")
	}
	if src.From, err = parseTimeFlag("from", *from); err != nil {
		return err
	}
	switch {
	case *every < 0 || (*every > 0 && *every < time.Second):
		return usagef("--every must be at least 1s")
	case *every > 0:
		src.Every = collect.Duration(*every)
	case src.QueueURL != "":
		src.Every = collect.Duration(5 * time.Minute)
	default:
		src.Every = collect.Duration(time.Minute)
	}
	switch src.Type {
	case collect.TypeCloudTrail, collect.TypeConfig:
		if *eds == "" {
			return usagef("--eds STORE is required for a %s source", src.Type)
		}
		if *table != "" {
			return usagef("--table is for cur sources")
		}
		lk, err := openLake(env)
		if err != nil {
			return err
		}
		store, err := resolveStore(lk, *eds)
		if err != nil {
			return err
		}
		if err := checkWritable(store); err != nil {
			return err
		}
		want := lake.TypeCloudTrail
		if src.Type == collect.TypeConfig {
			want = lake.TypeConfig
		}
		if store.Type != want && !(want == lake.TypeCloudTrail && store.Type == "") {
			return usagef("store %s is a store of type %s; a %s source needs a %s store", store.Name, store.Type, src.Type, want)
		}
		src.StoreID, src.Store = store.ID, store.Name
	case collect.TypeCUR:
		if *eds != "" || *queue != "" {
			return usagef("a cur source takes --table and an s3:// URI, not --eds or --sqs-queue-url")
		}
		if src.URI == "" {
			return usagef("a cur source needs the report's s3:// prefix")
		}
		if _, _, err := cost.SplitName(*table); err != nil {
			return usagef("--table: %v", err)
		}
		src.Table = *table
	default:
		return usagef("--type is cloudtrail, config or cur, not %q", src.Type)
	}
	if err := collect.Open(env.DataDir).Add(src); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "source %s added: %s → %s, every %s\n", src.Name, sourceWhere(src), src.Target(), time.Duration(src.Every))
	return nil
}

// sourceWhere is what a source reads: its URI, its queue, or both.
func sourceWhere(s collect.Source) string {
	switch {
	case s.QueueURL != "" && s.URI != "":
		return s.QueueURL + " + " + s.URI
	case s.QueueURL != "":
		return s.QueueURL
	}
	return s.URI
}

func runSourceList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "source list")
	output := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	sts, err := collect.Open(env.DataDir).Statuses(time.Now())
	if err != nil {
		return err
	}
	if *output == "json" {
		if sts == nil {
			sts = []collect.Status{}
		}
		return writeJSON(env.Stdout, sts)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tTARGET\tSTATE\tLAST RUN\tLAST FILE\tEVENTS ADDED\tLAG\tLAST ERROR")
	for _, s := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.Type, s.Target(), s.Status, ago(s.LastRun),
			orDash(s.LastFile), s.Events, lagText(s), orDash(oneLine(s.LastError, 100)))
	}
	return tw.Flush()
}

func runSourceShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "source show")
	output := formatFlag(fs, "text", "json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("source show takes NAME")
	}
	reg := collect.Open(env.DataDir)
	s, err := lookupSource(reg, pos[0])
	if err != nil {
		return err
	}
	sts, err := reg.Statuses(time.Now())
	if err != nil {
		return err
	}
	for _, st := range sts {
		if st.Name != s.Name {
			continue
		}
		if *output == "json" {
			return writeJSON(env.Stdout, st)
		}
		w := env.Stdout
		fmt.Fprintf(w, "source:       %s (%s)\n", st.Name, st.Type)
		fmt.Fprintf(w, "reads:        %s\n", sourceWhere(st.Source))
		fmt.Fprintf(w, "target:       %s\n", st.Target())
		fmt.Fprintf(w, "every:        %s\n", time.Duration(st.Every))
		if !st.From.IsZero() {
			fmt.Fprintf(w, "from:         %s\n", st.From.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "state:        %s\n", st.Status)
		fmt.Fprintf(w, "last run:     %s\n", ago(st.LastRun))
		fmt.Fprintf(w, "last success: %s\n", ago(st.LastSuccess))
		fmt.Fprintf(w, "lag:          %s\n", lagText(st))
		fmt.Fprintf(w, "last file:    %s\n", orDash(st.LastFile))
		fmt.Fprintf(w, "added:        %d files, %d events, %s read\n", st.Files, st.Events, humanBytes(st.Bytes))
		if st.QueueURL != "" {
			fmt.Fprintf(w, "messages:     %d deleted after their commit\n", st.Messages)
		}
		fmt.Fprintf(w, "requests:     %d in all, %d in the last poll (%s)\n", st.Requests, st.LastPolled, st.PollTime.Round(time.Millisecond))
		fmt.Fprintf(w, "prefixes:     %d account/region prefixes\n", len(st.Prefixes))
		fmt.Fprintf(w, "errors:       %d\n", st.Errors)
		if st.LastError != "" {
			fmt.Fprintf(w, "last error:   %s (%s)\n", st.LastError, ago(st.LastErrorAt))
		}
		if len(st.FailedFiles) > 0 {
			fmt.Fprintf(w, "failed files: %d (read again on a backoff; given up after a few reads until they change)\n", len(st.FailedFiles))
			for _, f := range st.FailedFiles {
				next := "next read " + f.NextAttempt.Local().Format(time.DateTime)
				if f.GaveUp() {
					next = "given up"
				}
				fmt.Fprintf(w, "  %s: %s (%d reads, %s)\n", f.URI, oneLine(f.Reason, 200), f.Attempts, next)
			}
		}
		if len(st.Problems) > 0 {
			fmt.Fprintln(w, "problems (newest last):")
			for _, p := range st.Problems {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
		return nil
	}
	return &NotFoundError{Msg: fmt.Sprintf("no source %q", pos[0])}
}

func lookupSource(reg *collect.Registry, name string) (collect.Source, error) {
	s, err := reg.Get(name)
	if errors.Is(err, collect.ErrNotFound) {
		return s, &HintError{Err: err, Hint: "list sources with: auditlake source list"}
	}
	return s, err
}

// runSourceChange is source pause, resume and remove.
func runSourceChange(verb string) func(context.Context, *Env, []string) error {
	return func(ctx context.Context, env *Env, args []string) error {
		fs := newFlags(env, "source "+verb)
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("source %s takes NAME", verb)
		}
		reg := collect.Open(env.DataDir)
		if _, err := lookupSource(reg, pos[0]); err != nil {
			return err
		}
		switch verb {
		case "pause":
			err = reg.SetPaused(pos[0], true)
		case "resume":
			err = reg.SetPaused(pos[0], false)
		case "remove":
			err = reg.Remove(pos[0])
		}
		if err != nil {
			return err
		}
		done := map[string]string{"pause": "paused", "resume": "resumed", "remove": "removed (the events it collected stay in the store)"}[verb]
		fmt.Fprintf(env.Stdout, "source %s %s\n", pos[0], done)
		return nil
	}
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339) + " (" + time.Since(t).Round(time.Second).String() + " ago)"
}

func lagText(s collect.Status) string {
	if s.CaughtUp.IsZero() {
		return "-"
	}
	return s.Lag.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine is s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

const collectUsage = `Usage: auditlake collect [--once]

Runs every source that is not paused (auditlake source list) until stopped (SIGINT or SIGTERM), picking up
sources added, paused, resumed or removed within 2 s; with --once, polls every source once (and drains
its queue) and exits: for cron or CI. One process collects a data directory at a time: a second is
refused with the holder's pid and host (serve, unless --no-collect, is such a process). A failing source
backs off (exponentially, with jitter) and is shown in error in 'source list'; the others go on.
SIGTERM abandons the batch in flight — nothing is half committed; its files are read again — and
exits within 10 s. Exit code 3 (--once): some sources failed or read bad files or messages; the rest was collected.`

func runCollect(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "collect")
	once := fs.Bool("once", false, "poll every source once, then exit")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("collect takes no arguments, got %q", pos[0])
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	reg := collect.Open(env.DataDir)
	release, err := reg.Lock()
	if err != nil {
		return err
	}
	defer release()
	// collect --once waits for the tables' catch-up before it exits; collect stops it when
	// it stops, and returns once it has (it writes under stores/ while it runs).
	catchUpCtx, stopCatchUp := context.WithCancel(ctx)
	caughtUp := catchUpTables(catchUpCtx, env, lk)
	defer func() {
		if !*once {
			stopCatchUp()
		}
		<-caughtUp
		stopCatchUp()
	}()
	al := newCollectAlerts(ctx, env, lk)
	defer al.close()
	al.resume(reg)
	c := collect.New(reg, al.options(collect.Options{Lake: lk, DataDir: env.DataDir, Log: env.Log}))
	if !*once {
		env.Log.Info("collecting", "data", env.DataDir)
		return c.Run(ctx)
	}
	sts, err := c.Once(ctx)
	if ctx.Err() != nil {
		return &PartialError{Msg: "interrupted: what was committed stays; run again to continue"}
	}
	var bad []string
	for _, s := range sts {
		if s.Paused {
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: %s, %d events added in all, last file %s\n", s.Name, s.Status, s.Events, orDash(s.LastFile))
		if s.Status == "problems" {
			bad = append(bad, s.Name)
		}
	}
	if err != nil {
		return &PartialError{Msg: err.Error()}
	}
	if len(bad) > 0 {
		// Exit 3, as ingest's: some input was bad, the good input was committed.
		return &PartialError{Msg: fmt.Sprintf("%s read bad files or messages (auditlake source show NAME lists them); the good ones were committed", strings.Join(bad, ", "))}
	}
	return nil
}

// startCollection runs the sources beside serve, unless off: it returns at once; collection
// stops with ctx or when the returned func is called, which waits for it. Another collector holding the data directory is a warning, not a failure:
// serve serves, the other process collects.
func startCollection(ctx context.Context, env *Env, off bool) (wait func()) {
	if off {
		return func() {}
	}
	lk, err := openLake(env)
	if err != nil {
		env.Log.Warn("not collecting sources", "reason", err)
		return func() {}
	}
	reg := collect.Open(env.DataDir)
	release, err := reg.Lock()
	if err != nil {
		env.Log.Warn("not collecting sources", "reason", err)
		return func() {}
	}
	al := newCollectAlerts(ctx, env, lk)
	c := collect.New(reg, al.options(collect.Options{Lake: lk, DataDir: env.DataDir, Log: env.Log}))
	// serve may return before its context ends (a port in use, a login link for an unknown
	// user): the returned func stops collection then, as well as after a shutdown.
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer release()
		defer al.close()
		al.resume(reg)
		c.Run(ctx)
	}()
	return func() { stop(); <-done }
}

// withCollection adds to serve's options GET /api/sources (the sources' states, the stores'
// newest event and lag) and GET /metrics (Prometheus), and counts every request for it.
func withCollection(env *Env, o server.Options) server.Options {
	lk, err := openLake(env)
	if err != nil {
		return o
	}
	reg := collect.Open(env.DataDir)
	m := metrics.New(lk, reg)
	o.Sources = func(ctx context.Context) (any, error) { return reg.Overview(lk, time.Now()) }
	o.Metrics, o.Observe = m.Handler(), m.Observe
	o.AlertTargets = alertTargetsAPI(lk)
	return o
}
