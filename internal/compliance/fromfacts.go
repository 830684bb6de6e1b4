package compliance

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
)

// FromFacts is LaunchCompliance's rows for facts, every EC2 lifecycle fact of a store (as
// lifecycle.Of gives them and the store keeps them beside its files), computed in Go without
// the engine: the same instances (each one's first launch within p.From–p.To), launchers,
// templates and verdicts, without what the SQL adds (cost, end, runtime). p.Cost,
// p.Accounts and p.ConfigStore are not read: a caller that needs them uses LaunchCompliance.
func FromFacts(facts []lifecycle.Fact, p Params) []Row {
	hist := &history{byName: map[string]string{}, byID: map[string]string{}}
	var templates []*lifecycle.Fact
	first := map[string]*lifecycle.Fact{} // instance → its first launch in the span
	for i := range facts {
		f := &facts[i]
		switch f.Kind {
		case "template":
			templates = append(templates, f)
		case "launch":
			if f.InstanceID == nil {
				continue
			}
			at := factTime(f)
			if (p.From != nil && at.Before(p.From.UTC())) || (p.To != nil && !at.Before(p.To.UTC())) {
				continue
			}
			if have := first[*f.InstanceID]; have == nil || launchOrder(f, have) < 0 {
				first[*f.InstanceID] = f
			}
		}
	}
	// templates.sql's order: eventtime, eventid.
	slices.SortStableFunc(templates, func(a, b *lifecycle.Fact) int {
		if c := factTime(a).Compare(factTime(b)); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	for _, f := range templates {
		e := templateEvent{at: factTime(f), event: deref(f.EventName), id: deref(f.LTID), name: deref(f.LTName), eventID: f.EventID, actor: deref(f.PrincipalARN)}
		e.version, _ = strconv.Atoi(deref(f.LTVersion))
		e.defaultVersion, _ = strconv.Atoi(deref(f.DefaultVersion))
		if e.id != "" && e.name != "" {
			hist.byName[e.name], hist.byID[e.id] = e.id, e.name
		}
		hist.events = append(hist.events, e)
	}
	out := make([]Row, 0, len(first))
	for _, f := range first {
		lf := launchFacts{
			instanceID: *f.InstanceID, account: deref(f.AccountID), region: deref(f.AWSRegion), at: factTime(f), eventID: f.EventID,
			principal: deref(f.PrincipalARN), issuer: deref(f.IssuerARN), sourceIdentity: deref(f.SourceIdentity), invokedBy: deref(f.InvokedBy),
			userAgent: deref(f.UserAgent), console: deref(f.Console), clientToken: deref(f.ClientToken),
			ltID: deref(f.LTID), ltName: deref(f.LTName), ltVersion: deref(f.LTVersion), lifecycle: deref(f.Lifecycle),
			tags: parseTags(deref(f.Tags)),
		}
		out = append(out, launchRow(lf, hist, nil, p))
	}
	// launches.sql's order: eventtime, instance_id.
	slices.SortFunc(out, func(a, b Row) int {
		if c := a.LaunchedAt.Compare(b.LaunchedAt); c != 0 {
			return c
		}
		return strings.Compare(a.InstanceID, b.InstanceID)
	})
	return out
}

// launchOrder is first_launch's order of two launches of an instance: src, eventtime, eventid.
func launchOrder(a, b *lifecycle.Fact) int {
	if c := cmp.Compare(derefInt(a.Src), derefInt(b.Src)); c != 0 {
		return c
	}
	if c := factTime(a).Compare(factTime(b)); c != 0 {
		return c
	}
	return strings.Compare(a.EventID, b.EventID)
}

// factTime is a fact's time as the store keeps it: UTC microseconds.
func factTime(f *lifecycle.Fact) time.Time {
	return f.EventTime.UTC().Truncate(time.Microsecond)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func derefInt(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// factColumns are lifecycle.Fact's columns, in its order.
const factColumns = "kind, src, instance_id, eventtime, eventid, eventname, awsregion, account_id, principal_arn, issuer_arn, source_identity, " +
	"invoked_by, useragent, console, client_token, lt_id, lt_name, lt_version, tags, lifecycle, reason, default_version"

// ReadFacts reads the launch and template facts of rel, a relation of EC2 lifecycle facts
// (query.Session.Facts, or the read_parquet of a store's facts files): what FromFacts judges.
func ReadFacts(ctx context.Context, s *query.Session, rel string) ([]lifecycle.Fact, error) {
	var out []lifecycle.Fact
	opt := func(v any) *string {
		if v == nil {
			return nil
		}
		x := str(v)
		return &x
	}
	_, err := s.EachInternal(ctx, "SELECT "+factColumns+" FROM "+rel+" AS facts WHERE kind IN ('launch', 'template')", func(v []any) error {
		f := lifecycle.Fact{Kind: str(v[0]), InstanceID: opt(v[2]), EventTime: tm(v[3]), EventID: str(v[4]), EventName: opt(v[5]),
			AWSRegion: opt(v[6]), AccountID: opt(v[7]), PrincipalARN: opt(v[8]), IssuerARN: opt(v[9]), SourceIdentity: opt(v[10]),
			InvokedBy: opt(v[11]), UserAgent: opt(v[12]), Console: opt(v[13]), ClientToken: opt(v[14]), LTID: opt(v[15]),
			LTName: opt(v[16]), LTVersion: opt(v[17]), Tags: opt(v[18]), Lifecycle: opt(v[19]), Reason: opt(v[20]), DefaultVersion: opt(v[21])}
		if v[1] != nil {
			src := int32(num(v[1]))
			f.Src = &src
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read EC2 lifecycle facts: %w", err)
	}
	return out, nil
}
