package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
)

const channelCreateUsage = `Usage: auditlake channel create --eds STORE [--account ID] [--region R] [--external-id X] [--output text|json] NAME

Creates a channel (CloudTrail Lake integration, source "Custom") that feeds the activity store
STORE (auditlake eds create NAME --type activity) and prints its ARN,
arn:aws:cloudtrail:REGION:ACCOUNT:channel/UUID. Events sent to it through 'auditlake serve'
(POST /PutAuditEvents?channelArn=ARN) or 'auditlake ingest events --channel' must name ACCOUNT as
their recipientAccountId. With --external-id every call must pass the same externalId.`

const channelCreateExamples = `  auditlake eds create app-events --type activity
  auditlake channel create my-app --eds app-events --account 111122223333 --region eu-west-1`

const tokenCreateUsage = `Usage: auditlake token create [NAME]   (or --name NAME)

Creates an API token for the audit-event endpoints of 'auditlake serve' and prints it once: only
its SHA-256 is stored (in <data>/tokens.json). Send it as 'Authorization: Bearer TOKEN'.`

const ingestEventsUsage = `Usage: auditlake ingest events (--channel CHANNEL | --eds STORE) FILE...

Reads audit events from files ('-' is stdin) with the same validation as the PutAuditEvents
endpoint and commits the accepted ones to the channel's activity store in one atomic commit per
file. A file is a stream of JSON values (JSON Lines or pretty-printed, or JSON arrays of them),
each a PutAuditEvents request body {"auditEvents":[{id, eventData, eventDataChecksum}]}, one such
{id, eventData} entry, or a bare auditEventData object (its id is its UID, or a hash of the object
when the UID is not a valid id). With --eds instead of --channel, events carry no channel ARN and
any recipientAccountId is accepted. Re-reading a file adds nothing (events are deduplicated on
channel + id). Exit code 3 means some events were rejected: they are listed, the rest were kept.`

const ingestEventsExamples = `  auditlake ingest events --channel my-app events.jsonl
  auditlake ingest events --eds app-events batch-*.json`

func runChannelCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "channel create")
	eds := fs.String("eds", "", "activity event data store the channel feeds (required)")
	account := fs.String("account", integration.DefaultAccount, "owner account: events' recipientAccountId must equal it")
	region := fs.String("region", integration.DefaultRegion, "region in the channel ARN and the events' awsRegion")
	externalID := fs.String("external-id", "", "require this externalId on every call")
	output := formatFlag(fs, "text", "json")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one channel, got %d arguments", len(pos))
	}
	if *eds == "" {
		return usagef("--eds is required")
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if _, err := resolveStore(lk, *eds); err != nil {
		return err
	}
	ch, err := integration.CreateChannel(lk, pos[0], *eds, integration.ChannelOptions{Account: *account, Region: *region, ExternalID: *externalID})
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(env.Stdout, ch)
	}
	fmt.Fprintln(env.Stdout, ch.ARN)
	return nil
}

func runChannelList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "channel list")
	output := formatFlag(fs, "table", "json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	chs, err := integration.Channels(lk)
	if err != nil {
		return err
	}
	if *output == "json" {
		if chs == nil {
			chs = []integration.Channel{}
		}
		return writeJSON(env.Stdout, chs)
	}
	names := map[string]string{}
	if stores, err := lk.Stores(); err == nil {
		for _, s := range stores {
			names[s.ID] = s.Name
		}
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTORE\tACCOUNT\tARN")
	for _, c := range chs {
		store := names[c.StoreID]
		if store == "" {
			store = c.StoreID + " (deleted)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, store, c.Account, c.ARN)
	}
	return tw.Flush()
}

func runChannelDelete(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "channel delete")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one channel (name, ARN or id), got %d arguments", len(pos))
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	ch, err := integration.DeleteChannel(lk, pos[0])
	if errors.Is(err, integration.ErrChannelNotFound) {
		return &HintError{Err: err, Hint: "list channels with: auditlake channel list"}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted channel %s (%s); its events stay in the store\n", ch.Name, ch.ARN)
	return nil
}

func runTokenCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "token create")
	name := fs.String("name", "", "a name to tell tokens apart (default: generated)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return usagef("name one token, got %d arguments", len(pos))
	case len(pos) == 1 && *name != "" && *name != pos[0]:
		return usagef("two names: %q and --name %q", pos[0], *name)
	case len(pos) == 1:
		*name = pos[0]
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	secret, tok, err := integration.CreateToken(lk, *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, secret)
	fmt.Fprintf(env.Stderr, "created token %q; it is shown only now, store it safely\n", tok.Name)
	return nil
}

func runTokenList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "token list")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	toks, err := integration.Tokens(lk)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED")
	for _, t := range toks {
		fmt.Fprintf(tw, "%s\t%s\n", t.Name, t.CreatedAt.Format("2006-01-02T15:04:05Z"))
	}
	return tw.Flush()
}

func runTokenDelete(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "token delete")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name one token, got %d arguments", len(pos))
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	if err := integration.DeleteToken(lk, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted token %s\n", pos[0])
	return nil
}

func runIngestEvents(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "ingest events")
	channel := fs.String("channel", "", "channel name, ARN or id")
	eds := fs.String("eds", "", "activity store name or id (events without a channel)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if (*channel == "") == (*eds == "") {
		return usagef("give exactly one of --channel and --eds")
	}
	if len(pos) == 0 {
		return usagef("name at least one FILE ('-' for stdin)")
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	var ch integration.Channel
	if *channel != "" {
		if ch, err = integration.ResolveChannel(lk, *channel); err != nil {
			if errors.Is(err, integration.ErrChannelNotFound) {
				return &HintError{Err: err, Hint: "list channels with: auditlake channel list"}
			}
			return err
		}
	} else {
		store, err := resolveStore(lk, *eds)
		if err != nil {
			return err
		}
		if store.Type != lake.TypeActivity {
			return fmt.Errorf("store %q is a %s store; audit events go into an activity store", store.Name, store.Type)
		}
		ch = integration.Channel{Name: store.Name, StoreID: store.ID}
	}
	var read, accepted, rejected int
	var added int64
	var badFiles int
	for _, name := range pos {
		events, rerr := readEventsFile(name)
		if rerr != nil {
			badFiles++
			fmt.Fprintf(env.Stderr, "%s: %v\n", name, rerr)
		}
		read += len(events)
		if len(events) == 0 {
			continue
		}
		res, n, err := integration.Ingest(ctx, lk, ch, events, integration.Options{Log: env.Log})
		if err != nil {
			return fmt.Errorf("ingest events from %q: %w", name, err)
		}
		for _, s := range res.Successful {
			if s.Warning != "" {
				fmt.Fprintf(env.Stderr, "%s: event %q: warning: %s\n", name, s.ID, s.Warning)
			}
		}
		for _, f := range res.Failed {
			fmt.Fprintf(env.Stderr, "%s: event %q: %s: %s\n", name, f.ID, f.ErrorCode, f.ErrorMessage)
		}
		accepted += len(res.Successful)
		rejected += len(res.Failed)
		added += n
	}
	fmt.Fprintf(env.Stdout, "events: %d read, %d accepted (%d new, %d already in the store), %d rejected\n",
		read, accepted, added, int64(accepted)-added, rejected)
	if rejected > 0 || badFiles > 0 {
		return &PartialError{Msg: fmt.Sprintf("%s rejected, %s unreadable: the accepted events were committed, the problems are listed above",
			plural(rejected, "event", "events"), plural(badFiles, "file", "files"))}
	}
	return nil
}

func readEventsFile(name string) ([]integration.AuditEvent, error) {
	if name == "-" {
		return integration.ReadEvents(os.Stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return integration.ReadEvents(f)
}
