package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/auditlake/auditlake/internal/access"
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

const tokenCreateUsage = `Usage: auditlake token create --channel CHANNEL... [--expires T] [--output text|json] [NAME]

Creates a channel token: a user NAME (default channel-CHANNEL) with an access key and a put grant
on each CHANNEL (auditlake grant put), and prints the key once as KEYID:SECRET — only the key's
id is stored, its secret is derived from the data directory's master key. Senders send it to
'auditlake serve' as 'Authorization: Bearer KEYID:SECRET' (POST /PutAuditEvents or
/api/channels/CHANNEL/events); a key without a put grant on the channel it names gets 403.
Revoke it with 'auditlake token delete NAME' (or 'user disable', 'user rotate-key').`

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
	if _, err := accessRegistry(env).RevokeOn("channel:" + ch.ID()); err != nil {
		return fmt.Errorf("deleted channel %s, but not the put grants on it: %w", ch.Name, err)
	}
	fmt.Fprintf(env.Stdout, "deleted channel %s (%s) and the put grants on it; its events stay in the store\n", ch.Name, ch.ARN)
	return nil
}

func runTokenCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "token create")
	name := fs.String("name", "", "the token's user (default: channel-CHANNEL)")
	var channels multiFlag
	fs.Var(&channels, "channel", "channel (name, ARN or id) the token may put events into (repeatable; required)")
	expires := fs.String("expires", "", "the key expires at this time (RFC 3339 or YYYY-MM-DD); default never")
	output := formatFlag(fs, "text", "json")
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
	if len(channels) == 0 {
		return usagef("--channel is required: a token puts events into the channels it names")
	}
	exp, err := parseExpires(*expires)
	if err != nil {
		return usagef("%v", err)
	}
	lk, err := openLake(env)
	if err != nil {
		return err
	}
	var chs []integration.Channel
	for _, c := range channels {
		ch, err := integration.ResolveChannel(lk, c)
		if errors.Is(err, integration.ErrChannelNotFound) {
			return &HintError{Err: err, Hint: "list channels with: auditlake channel list"}
		}
		if err != nil {
			return err
		}
		chs = append(chs, ch)
	}
	if *name == "" {
		*name = "channel-" + chs[0].Name
		if len(*name) > 64 {
			*name = "channel-" + chs[0].ID()
		}
	}
	reg := accessRegistry(env)
	creds, err := reg.CreateUser(*name, false, exp)
	if err != nil {
		return accessErr(err)
	}
	for _, ch := range chs {
		g := access.Grant{Privilege: access.Put, Principal: "user:" + *name, Resource: "channel:" + ch.ID()}
		if _, err := reg.AddGrant(g, func(g *access.Grant) error { return access.CheckPutGrant(g, channelID(lk)) }); err != nil {
			reg.DeleteUser(*name) // nothing half made
			return err
		}
	}
	token := creds.AccessKeyID + ":" + creds.SecretAccessKey
	if *output == "json" {
		arns := make([]string, len(chs))
		for i, ch := range chs {
			arns[i] = ch.ARN
		}
		return writeJSON(env.Stdout, map[string]any{"user": creds.User, "access_key_id": creds.AccessKeyID,
			"secret_access_key": creds.SecretAccessKey, "token": token, "channels": arns})
	}
	fmt.Fprintln(env.Stdout, token)
	fmt.Fprintf(env.Stderr, "created token %q: user %s with an access key and a put grant on %s; it is shown only now, store it safely\n",
		*name, *name, plural(len(chs), "channel", "channels"))
	return nil
}

// channelID resolves a channel reference (name, ARN or id) to its id, for a put grant.
func channelID(lk *lake.Lake) func(string) (string, error) {
	return func(ref string) (string, error) {
		ch, err := integration.ResolveChannel(lk, ref)
		if err != nil {
			return "", err
		}
		return ch.ID(), nil
	}
}

// tokenUsers lists the users that hold put grants (channel tokens), with the channels'
// resources, by user name.
func tokenUsers(st access.State) map[string][]string {
	out := map[string][]string{}
	for _, g := range st.Grants {
		if g.Privilege == access.Put {
			if kind, name, _ := strings.Cut(g.Principal, ":"); kind == "user" {
				out[name] = append(out[name], g.Resource)
			}
		}
	}
	return out
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
	st, err := accessRegistry(env).State()
	if err != nil {
		return err
	}
	names := map[string]string{}
	if chs, err := integration.Channels(lk); err == nil {
		for _, c := range chs {
			names["channel:"+c.ID()] = c.Name
		}
	}
	tokens := tokenUsers(st)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCHANNELS\tCREATED\tSTATE")
	for _, u := range st.Users {
		res, ok := tokens[u.Name]
		if !ok {
			continue
		}
		var chs []string
		for _, r := range res {
			if n := names[r]; n != "" {
				chs = append(chs, n)
			} else {
				chs = append(chs, r+" (deleted)")
			}
		}
		state := "active"
		if u.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, strings.Join(chs, ","), u.Created.Format("2006-01-02T15:04:05Z"), state)
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
	reg := accessRegistry(env)
	st, err := reg.State()
	if err != nil {
		return err
	}
	if _, ok := tokenUsers(st)[pos[0]]; !ok {
		return &HintError{Err: fmt.Errorf("token %q: %w", pos[0], access.ErrNotFound), Hint: "list tokens with: auditlake token list (other users: auditlake user delete)"}
	}
	if err := reg.DeleteUser(pos[0]); err != nil {
		return accessErr(err)
	}
	fmt.Fprintf(env.Stdout, "deleted token %s (its user, access keys and grants)\n", pos[0])
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
			return fmt.Errorf("store %q is a store of type %s; audit events go into an activity store", store.Name, store.Type)
		}
		ch = integration.Channel{Name: store.Name, StoreID: store.ID}
	}
	var read, accepted, rejected int
	var added int64
	var badFiles int
	for _, name := range pos {
		events, rerrs := readEventsFile(name)
		if len(rerrs) > 0 {
			badFiles++
		}
		for _, rerr := range rerrs {
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
		return &PartialError{Msg: fmt.Sprintf("%s rejected, %s not read whole: the accepted events were committed, the problems are listed above",
			plural(rejected, "event", "events"), plural(badFiles, "file", "files"))}
	}
	return nil
}

func readEventsFile(name string) ([]integration.AuditEvent, []error) {
	if name == "-" {
		return integration.ReadEvents(os.Stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, []error{err}
	}
	defer f.Close()
	return integration.ReadEvents(f)
}
