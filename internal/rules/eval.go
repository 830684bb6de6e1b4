package rules

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/sigma"
)

// Builtin is a rule auditlake ships.
type Builtin struct {
	Name, Title, Severity, Description string
	// predicate is the rule as a boolean expression over a CloudTrail store's columns; empty
	// for launch-compliance, which runs the compliance report's logic. prefilter is implied by
	// it and reads only eventsource and eventname (as sigma.Rule's Prefilter).
	predicate, prefilter string
}

// LaunchCompliance is the built-in rule that reports every EC2 instance launched outside the
// approved launch templates (package compliance's verdict), one match per instance.
const LaunchCompliance = "launch-compliance"

// Builtins are the built-in rules, by the name --builtin takes.
var Builtins = []Builtin{
	{Name: LaunchCompliance, Title: "EC2 instance launched outside an approved launch template", Severity: "high",
		Description: "One match per launched instance whose launch template is not approved (or that had none), with its template, launcher and the reason: the launch-compliance report's verdict (--approved-config)."},
	{Name: "root-account-use", Title: "Root account used", Severity: "high",
		Description: "A call made with the account's root user credentials (not by an AWS service on its behalf: invokedBy empty, eventType not AwsServiceEvent), as CIS AWS Foundations 1.7 / 4.3 monitors.",
		predicate:   "useridentity.type = 'Root' AND useridentity.invokedby IS NULL AND coalesce(eventtype, '') <> 'AwsServiceEvent'"},
	{Name: "cloudtrail-logging-stopped", Title: "CloudTrail logging stopped", Severity: "critical",
		Description: "A successful StopLogging or DeleteTrail call: the account's trail no longer records (CIS 4.5).",
		predicate:   "eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('StopLogging', 'DeleteTrail') AND errorcode IS NULL",
		prefilter:   "eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('StopLogging', 'DeleteTrail')"},
	{Name: "console-login-without-mfa", Title: "Console login without MFA", Severity: "medium",
		Description: "A successful console sign-in of an IAM user or the root user that did not use MFA (CIS 4.2). Federated sign-ins (an assumed role, or a SamlProviderArn) are left out: their MFA is the identity provider's.",
		predicate:   "eventname = 'ConsoleLogin' AND responseelements['ConsoleLogin'] = 'Success' AND lower(additionaleventdata['MFAUsed']) = 'no' AND useridentity.type IN ('IAMUser', 'Root') AND additionaleventdata['SamlProviderArn'] IS NULL",
		prefilter:   "eventname = 'ConsoleLogin'"},
}

// BuiltinNamed returns the built-in rule name.
func BuiltinNamed(name string) (Builtin, bool) {
	for _, b := range Builtins {
		if b.Name == name {
			return b, true
		}
	}
	return Builtin{}, false
}

// eventsTable is the name a SQL rule's {events} becomes: a common table expression holding
// the events the rule runs over.
const eventsTable = "auditlake_rule_events"

// compiled is a rule ready to run: a predicate over the events' columns, a SQL query over
// eventsTable, or the launch-compliance verdict.
type compiled struct {
	rule      Rule
	predicate string
	// prefilter is implied by predicate and reads only eventsource and eventname; "" when
	// nothing is known about them.
	prefilter string
	sql       string
	launch    bool
}

// compile checks a rule and makes it ready to run. A SQL rule's statement is checked with an
// engine (CheckSQL) when added; here it is rewritten for DuckDB.
func compile(r Rule) (*compiled, error) {
	switch r.Kind {
	case KindSigma:
		sr, err := sigma.Parse(r.File, []byte(r.Sigma))
		if err != nil {
			return nil, err
		}
		return &compiled{rule: r, predicate: sr.Predicate, prefilter: sr.Prefilter}, nil
	case KindSQL:
		sql, err := rewriteSQL(r.ID, r.SQL)
		if err != nil {
			return nil, err
		}
		return &compiled{rule: r, sql: sql}, nil
	case KindBuiltin:
		b, ok := BuiltinNamed(r.Builtin)
		if !ok {
			return nil, fmt.Errorf("rule %s: no built-in rule %q (built-ins: %s)", r.ID, r.Builtin, builtinNames())
		}
		if b.Name == LaunchCompliance {
			if r.Approved == nil {
				return nil, fmt.Errorf("rule %s: the launch-compliance rule needs the approved templates (--approved-config FILE)", r.ID)
			}
			return &compiled{rule: r, launch: true}, nil
		}
		return &compiled{rule: r, predicate: b.predicate, prefilter: b.prefilter}, nil
	}
	return nil, fmt.Errorf("rule %s: unknown kind %q", r.ID, r.Kind)
}

// Predicate returns rule r as a boolean expression over a CloudTrail store's columns ("" for
// a SQL rule or launch-compliance, which are not predicates), for rule show.
func Predicate(r Rule) (string, error) {
	c, err := compile(r)
	if err != nil {
		return "", err
	}
	return c.predicate, nil
}

func builtinNames() string {
	var names []string
	for _, b := range Builtins {
		names = append(names, b.Name)
	}
	return strings.Join(names, ", ")
}

// rewriteSQL turns a SQL rule (Trino/Athena dialect, reading {events}) into DuckDB SQL that
// reads eventsTable. Only a {events} written as SQL is the table: one inside a string, a quoted
// name or a comment is text and stays as written — replacing it there changed a string's value
// ('{events}' became the table's name) and let a query that reads no events at all
// (SELECT 1 AS n -- {events}) pass as one that does, raising an alert at every commit.
func rewriteSQL(id, sql string) (string, error) {
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return "", fmt.Errorf("rule %s: %w", id, err)
	}
	var b strings.Builder
	reads := false
	for i := 0; i < len(toks); i++ {
		if i+2 < len(toks) && toks[i].Kind == dialect.TokenOp && toks[i].Text == "{" &&
			toks[i+1].Kind == dialect.TokenIdent && toks[i+1].Text == "events" &&
			toks[i+2].Kind == dialect.TokenOp && toks[i+2].Text == "}" {
			b.WriteString(eventsTable)
			reads = true
			i += 2
			continue
		}
		b.WriteString(toks[i].Text)
	}
	if !reads {
		return "", fmt.Errorf("rule %s: the query reads no {events} (one inside a string, a quoted name or a comment is text): write SELECT … FROM {events} WHERE …", id)
	}
	out, err := dialect.Rewrite(b.String())
	if err != nil {
		return "", fmt.Errorf("rule %s: %w", id, err)
	}
	return out, nil
}

// CheckSQL checks a SQL rule's query with the engine's statement checks: exactly one SELECT,
// no table function that reads files, and no table but {events} (and the query's own common
// table expressions).
func CheckSQL(ctx context.Context, id, sql string) error {
	rewritten, err := rewriteSQL(id, sql)
	if err != nil {
		return err
	}
	db, err := engine.Open(ctx, engine.Options{MemoryLimit: "64MB"})
	if err != nil {
		return err
	}
	defer db.Close()
	db.RestrictTables([][2]string{{"", eventsTable}})
	if err := db.CheckUserSQL(ctx, rewritten); err != nil {
		msg := strings.ReplaceAll(err.Error(), eventsTable, "{events}")
		return fmt.Errorf("rule %s: %s (a SQL rule is one SELECT that reads only {events})", id, msg)
	}
	return nil
}

// Match is one finding of a rule: an event (or, for launch-compliance, an instance's launch).
type Match struct {
	Rule      string    `json:"rule"`
	Title     string    `json:"title"`
	Severity  string    `json:"severity"`
	EventTime time.Time `json:"event_time"`
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	Principal string    `json:"principal"`
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	SourceIP  string    `json:"source_ip"`
	Summary   string    `json:"summary"`
	// Resource is what the match is about when one event matches more than once (the
	// instance of a launch-compliance match); "" otherwise.
	Resource string `json:"resource,omitempty"`
}

// Target is what a rule runs over: the events of Store with eventtime in [From, To) (zero
// bounds open), read with partition pruning; or, when Files is set, the events of just those
// data files of the store (a commit's batch).
type Target struct {
	Store    lake.Store
	From, To time.Time
	Files    []lake.DataFile
	// Facts, when set, keeps the store's EC2 lifecycle facts (a Watcher's, the files it saw
	// written and those it read): launch-compliance is judged from them in Go
	// (compliance.FromFacts) instead of by the report's SQL — also over files whose records
	// GoEval did not see (a cold rewrite's). Live, when set with it, is the store's manifest
	// as the caller's snapshot holds it: the facts are its files' (else the session's).
	Facts *FactsCache
	Live  *lake.Manifest
}

// Opener gives the query session an evaluation runs its SQL in, opened (or brought up to date)
// the first time it is called: an evaluation that needs no SQL (every rule judged in Go) opens
// none.
type Opener func() (*query.Session, error)

// SessionOpener is the Opener of the open session s.
func SessionOpener(s *query.Session) Opener {
	return func() (*query.Session, error) { return s, nil }
}

// storeFacts is the store's launch and template facts when target keeps them (Facts), nil
// when not (or when some file has none: the report's SQL computes them from the events).
func (t Target) storeFacts(ctx context.Context, open Opener) ([]lifecycle.Fact, error) {
	if t.Facts == nil {
		return nil, nil
	}
	if t.Live != nil {
		if t.Live.FilesWithoutFacts() > 0 {
			return nil, nil
		}
		return t.Facts.files(ctx, t.Store.ID, t.Live.Files, open)
	}
	s, err := open()
	if err != nil {
		return nil, err
	}
	return t.Facts.Store(ctx, s, t.Store.ID)
}

// relation is the SQL relation of the target's events.
func (t Target) relation(s *query.Session) string {
	if t.Files != nil {
		return s.FilesRelation(t.Store.ID, t.Files)
	}
	return s.StoreRange(t.Store.ID, t.From, t.To)
}

// Evaluate runs rule r over target in session s and returns its matches oldest first. To run
// several rules over the same target, NewHunt reads what they share once.
func Evaluate(ctx context.Context, s *query.Session, r Rule, target Target) ([]Match, error) {
	return NewHunt(s, target).Evaluate(ctx, r)
}

// Hunt runs rules over one target in one session. A rule with a prefilter (every Sigma rule
// that names eventSource or eventName outside a not, and two of the built-ins) runs only over
// the events whose source and name its prefilter admits: the distinct (eventsource,
// eventname) of the target are read once, on first need; each rule's prefilter picks the
// values among them its events can have, and its query gets "eventsource IN (…) AND
// eventname IN (…)" of those exact values. The prefilter is implied by the rule's predicate,
// so the matches are the same; but exact values prune a scan by the files' statistics (the
// files are sorted by source and name) where a case-insensitive comparison cannot, and a rule
// no value admits runs no query at all.
type Hunt struct {
	s        *query.Session
	target   Target
	relation string
	// fuse runs the predicate rules without a prefilter in one scan (Run).
	fuse bool
	// vocab is the target's distinct (eventsource, eventname) as a VALUES relation, once read;
	// vocabErr why it could not be (the rules then run unnarrowed).
	vocab    string
	vocabErr error
	read     bool
	// counts are the target's events by (eventsource, eventname), read with vocab: how many
	// events a rule's prefilter admits at most (Stream). bySlice are the same by the target's
	// time slices (timeSlices), read with them when the target is a store's range of more than
	// one slice (nil otherwise, or when an event's time is in none).
	counts  map[[2]any]int64
	bySlice map[[2]any][]int64
	// slices are the target's time slices of perSlice events, once computed (timeSlices).
	slices []query.TimeSlice
	// sliceRows is how many events Stream reads per query for a rule that may match more
	// (0: huntSliceRows).
	sliceRows int64
	// plans are, by rule id, how many matches of the rule each of the target's time slices
	// holds (Prepare); Stream reads only the slices with some. held are the matches Prepare
	// read of the rules with few, in order.
	plans map[string][]int64
	held  map[string][]matchRow
	// matched are, by rule id, the conditions that limit the planned rules to the (eventsource,
	// eventname) pairs Prepare counted their matches in (matchedIn; "" for all of them).
	matched map[string]string
	// groups are, by rule id, the predicate rules with a prefilter whose narrow condition is
	// another's too (Prepare): Stream reads the events that condition admits once for them all.
	groups map[string]*ruleGroup
}

// NewHunt prepares rules to run over target in session s.
func NewHunt(s *query.Session, target Target) *Hunt {
	return &Hunt{s: s, target: target, relation: target.relation(s)}
}

// Evaluate runs rule r over the hunt's target and returns its matches oldest first.
func (h *Hunt) Evaluate(ctx context.Context, r Rule) ([]Match, error) {
	c, err := compile(r)
	if err != nil {
		return nil, err
	}
	var out []Match
	switch {
	case c.launch:
		var facts []lifecycle.Fact
		if facts, err = h.target.storeFacts(ctx, SessionOpener(h.s)); err == nil {
			out, err = c.launches(ctx, SessionOpener(h.s), h.target, nil, facts)
		}
	case c.sql != "":
		out, err = c.runSQL(ctx, h.s, h.relation)
	default:
		var narrow string
		var none bool
		if narrow, none, err = h.narrow(ctx, c); err == nil && !none {
			out, err = c.runPredicate(ctx, h.s, h.relation, narrow)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	sortMatches(out)
	return out, nil
}

// readVocab reads the target's distinct (eventsource, eventname) pairs, and how many events
// each has (counts), in all and by time slice (bySlice).
func (h *Hunt) readVocab(ctx context.Context) (string, error) {
	if h.read {
		return h.vocab, h.vocabErr
	}
	h.read = true
	sql := "SELECT eventsource, eventname, count(*) FROM " + h.relation + " AS events GROUP BY ALL"
	var sl []query.TimeSlice
	if h.target.Files == nil {
		if sl = h.timeSlices(); len(sl) > 1 && len(sl) <= maxVocabSlices {
			// The slice of an event, as Prepare's: a few comparisons of its time more, in the
			// same scan.
			sql = "SELECT eventsource, eventname, count(*), " + sliceIndex("eventtime", sliceCuts(sl)) + " FROM " + h.relation + " AS events GROUP BY ALL"
		} else {
			sl = nil
		}
	}
	res, err := h.s.RunInternal(ctx, sql)
	if err != nil {
		if ctx.Err() != nil {
			h.read = false
			return "", err
		}
		h.vocabErr = err
		return "", err
	}
	h.keepVocab(res.Rows, sl)
	return h.vocab, nil
}

// keepVocab keeps the target's (eventsource, eventname) pairs and their counts (vocab, counts)
// from rows: a pair in columns 0 and 1, how many events have it in column 2 and, when sl is not
// nil, in column 3 the slice of sl they are in (bySlice; a pair's events may be in several).
func (h *Hunt) keepVocab(rows [][]any, sl []query.TimeSlice) {
	h.read, h.vocabErr = true, nil
	values := make([]string, 0, len(rows))
	h.counts = make(map[[2]any]int64, len(rows))
	h.bySlice = nil
	if sl != nil {
		h.bySlice = map[[2]any][]int64{}
	}
	for _, row := range rows {
		pair := [2]any{row[0], row[1]}
		if _, ok := h.counts[pair]; !ok {
			values = append(values, "("+sqlText(row[0])+", "+sqlText(row[1])+")")
		}
		n, _ := row[2].(int64)
		h.counts[pair] += n
		if h.bySlice == nil {
			continue
		}
		i, ok := row[3].(int32)
		if !ok || i < 0 || int(i) >= len(sl) { // an event without a time: not by slice
			h.bySlice = nil
			continue
		}
		if h.bySlice[pair] == nil {
			h.bySlice[pair] = make([]int64, len(sl))
		}
		h.bySlice[pair][i] += n
	}
	if len(values) == 0 {
		h.vocab = "(SELECT NULL::VARCHAR AS eventsource, NULL::VARCHAR AS eventname WHERE false)"
	} else {
		h.vocab = "(SELECT * FROM (VALUES " + strings.Join(values, ", ") + ") AS v(eventsource, eventname))"
	}
}

// sqlText is v, a VARCHAR value read back, as a SQL literal.
func sqlText(v any) string {
	if v == nil {
		return "NULL::VARCHAR"
	}
	return textLiteral(str(v))
}

// textLiteral is s as a SQL constant: a literal, or literals joined by chr(0) when s holds a
// NUL (which ends the statement's text for the engine's parser).
func textLiteral(s string) string {
	if !strings.Contains(s, "\x00") {
		return engine.Literal(s)
	}
	parts := strings.Split(s, "\x00")
	for i, p := range parts {
		parts[i] = engine.Literal(p)
	}
	return "(" + strings.Join(parts, " || chr(0) || ") + ")"
}

// narrow returns the condition that limits c's query to the source and name values its
// prefilter admits among the target's, or none when no value does (the rule matches nothing).
// For a rule without a prefilter, the pairs Prepare counted its matches in (matchedIn). ""
// when there is no such condition, or the values could not be read: the rule runs unnarrowed.
func (h *Hunt) narrow(ctx context.Context, c *compiled) (cond string, none bool, err error) {
	cond, _, _, none, err = h.narrowCount(ctx, c)
	return cond, none, err
}

// narrowCount is narrow, and how many of the target's events the condition admits (-1 when
// not known: no prefilter, or the values could not be read), in all and by the target's time
// slices (bySlice; nil when not known).
func (h *Hunt) narrowCount(ctx context.Context, c *compiled) (cond string, admitted int64, bySlice []int64, none bool, err error) {
	if c.prefilter == "" { // only the pairs Prepare counted its matches in, if it did
		return h.matched[c.rule.ID], -1, nil, false, nil
	}
	vocab, err := h.readVocab(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", -1, nil, false, err
		}
		return "", -1, nil, false, nil // unnarrowed, and still exact
	}
	res, err := h.s.RunInternal(ctx, "SELECT eventsource, eventname FROM "+vocab+" AS events WHERE "+c.prefilter)
	if err != nil {
		return "", -1, nil, false, err
	}
	if len(res.Rows) == 0 {
		return "", 0, nil, true, nil
	}
	if h.bySlice != nil {
		bySlice = make([]int64, len(h.slices))
	}
	for _, p := range res.Rows {
		pair := [2]any{p[0], p[1]}
		admitted += h.counts[pair]
		for i, n := range h.bySlice[pair] {
			bySlice[i] += n
		}
	}
	return inValues(res.Rows), admitted, bySlice, false, nil
}

// inValues is "eventsource IN (…) AND eventname IN (…)" of the pairs' values; a column with a
// NULL among them is left unrestricted.
func inValues(pairs [][]any) string {
	var conds []string
	for col, name := range []string{"eventsource", "eventname"} {
		seen := map[string]bool{}
		var vals []string
		hasNull := false
		for _, p := range pairs {
			if p[col] == nil {
				hasNull = true
				break
			}
			if v := str(p[col]); !seen[v] {
				seen[v] = true
				vals = append(vals, textLiteral(v))
			}
		}
		if !hasNull {
			sort.Strings(vals)
			conds = append(conds, name+" IN ("+strings.Join(vals, ", ")+")")
		}
	}
	return strings.Join(conds, " AND ")
}

// where is a predicate rule's WHERE condition: its predicate, after narrow when there is one.
func (c *compiled) where(narrow string) string {
	if narrow == "" {
		return c.predicate
	}
	return narrow + " AND (" + c.predicate + ")"
}

// matchFields are what a predicate rule reads of each matching event besides its time.
var matchFields = [...]string{"eventid", "eventname", "eventsource",
	"coalesce(useridentity.arn, useridentity.principalid, useridentity.type)",
	"recipientaccountid", "awsregion", "sourceipaddress"}

// matchColumns are what a predicate rule's query returns of each matching event: its time and
// matchFields packed into one string, each as its length in bytes, ':' and its text (NULL as
// ""). One value a row instead of seven: a hunt can return most of a store's events (the
// community's AssumeRole rule matches most assumed-role calls), and fetching a value from the
// engine costs more than building and splitting the string.
var matchColumns = func() string {
	parts := make([]string, len(matchFields))
	for i, f := range matchFields {
		parts[i] = "strlen(coalesce(" + f + ", '')), ':', coalesce(" + f + ", '')"
	}
	return "eventtime, concat(" + strings.Join(parts, ", ") + ") AS match_fields"
}()

// writeSummary writes a predicate rule's summary of a match: "name (source) by principal from
// address", "-" for an empty principal or address. Stream's rows (joinChunk), packedMatch and
// the matcher at ingest (summarize) all write it here.
func writeSummary(b *strings.Builder, name, source, principal, address string) {
	b.WriteString(name)
	b.WriteString(" (")
	b.WriteString(source)
	b.WriteString(") by ")
	b.WriteString(dash(principal))
	b.WriteString(" from ")
	b.WriteString(dash(address))
}

// summaryOf is writeSummary's text.
func summaryOf(name, source, principal, address string) string {
	var b strings.Builder
	b.Grow(len(name) + len(source) + len(principal) + len(address) + len(" () by  from --"))
	writeSummary(&b, name, source, principal, address)
	return b.String()
}

// unpackInto splits a match_fields value s into out, one of matchFields' values each.
func unpackInto(out []string, s string) error {
	packed := s
	for i := range out {
		n, rest, ok := strings.Cut(s, ":")
		size, err := strconv.Atoi(n)
		if !ok || err != nil || size < 0 || size > len(rest) {
			return fmt.Errorf("malformed match fields %q", truncate(packed, 80))
		}
		out[i] = rest[:size]
		s = rest[size:]
	}
	return nil
}

// truncate is s cut to at most n bytes, at a character boundary, with "…" when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (c *compiled) runPredicate(ctx context.Context, s *query.Session, relation, narrow string) ([]Match, error) {
	// Ordered by the caller (sortMatches): cheaper than the engine's sort of every column.
	res, err := s.RunInternal(ctx, "SELECT "+matchColumns+" FROM "+relation+" AS events WHERE "+c.where(narrow))
	if err != nil {
		return nil, err
	}
	out := make([]Match, 0, len(res.Rows))
	for _, row := range res.Rows {
		m, err := c.predicateMatch(row)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// predicateMatch is the match of a row of matchColumns.
func (c *compiled) predicateMatch(row []any) (Match, error) {
	packed, _ := row[1].(string)
	t, _ := row[0].(time.Time)
	return c.packedMatch(t, packed)
}

// EvaluateAll runs every rule of rs over target and returns all their matches: what a
// commit's batch is evaluated with (Hunt.Run). A rule that cannot be compiled or run is an
// error.
func EvaluateAll(ctx context.Context, s *query.Session, rs []Rule, target Target) ([]Match, error) {
	h := NewHunt(s, target)
	h.fuse = true
	ms, errs := h.Run(ctx, rs)
	var out []Match
	for i := range rs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, ms[i]...)
	}
	return out, nil
}

// Run runs every rule of rs over the hunt's target, one query per rule (none for a rule whose
// prefilter admits none of the target's values), and returns, by rule, its matches oldest
// first or why it failed (the others still run). For EvaluateAll, the predicate rules without
// a prefilter share one scan of the events instead, each rule's predicate a column of it.
func (h *Hunt) Run(ctx context.Context, rs []Rule) ([][]Match, []error) {
	out := make([][]Match, len(rs))
	errs := make([]error, len(rs))
	var scanned []int
	var cs []*compiled
	for i, r := range rs {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		c, err := compile(r)
		if err != nil {
			errs[i] = err
			continue
		}
		if !h.fuse || c.predicate == "" || c.prefilter != "" {
			out[i], errs[i] = h.Evaluate(ctx, r)
			continue
		}
		scanned = append(scanned, i)
		cs = append(cs, c)
	}
	if len(cs) > 1 {
		ms, err := h.scan(ctx, cs)
		if err == nil {
			for k, i := range scanned {
				out[i] = ms[k]
			}
			return out, errs
		}
		if ctx.Err() != nil {
			for _, i := range scanned {
				errs[i] = ctx.Err()
			}
			return out, errs
		}
		// One rule's predicate fails on these events: each on its own, to say which.
	}
	for _, i := range scanned {
		out[i], errs[i] = h.Evaluate(ctx, rs[i])
	}
	return out, errs
}

// scan runs predicate rules cs in one scan of the target's events: each event with the
// indexes of the rules it matches, one row per rule. It returns each rule's matches, oldest
// first.
func (h *Hunt) scan(ctx context.Context, cs []*compiled) ([][]Match, error) {
	res, err := h.s.RunInternal(ctx, scanSQL(cs, h.relation, ""))
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", ruleIDs(cs), err)
	}
	out := make([][]Match, len(cs))
	for _, row := range res.Rows {
		i, _ := row[0].(int32)
		m, err := cs[i].predicateMatch(row[1:])
		if err != nil {
			return nil, err
		}
		out[i] = append(out[i], m)
	}
	for _, ms := range out {
		sortMatches(ms)
	}
	return out, nil
}

// scanSQL is the query of one scan of relation for predicate rules cs: a row of matchColumns for
// each event and rule it matches, after the rule's index in cs (rule_index). narrow, when not
// "", is a condition every rule's predicate implies (their common narrow): the scan reads only
// the events it admits.
func scanSQL(cs []*compiled, relation, narrow string) string {
	var cases, ors []string
	for i, c := range cs {
		cases = append(cases, "CASE WHEN "+c.predicate+" THEN "+strconv.Itoa(i)+" END")
		ors = append(ors, "("+c.predicate+")")
	}
	where := strings.Join(ors, " OR ")
	if narrow != "" {
		where = narrow + " AND (" + where + ")"
	}
	return "SELECT rule_index, * EXCLUDE (rule_indexes) FROM (SELECT list_filter([" + strings.Join(cases, ", ") +
		"], lambda x: x IS NOT NULL) AS rule_indexes, " + matchColumns + " FROM " + relation + " AS events WHERE " + where +
		"), unnest(rule_indexes) AS u(rule_index)"
}

// sortMatches orders ms oldest first, then by event id.
func sortMatches(ms []Match) {
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].EventTime.Equal(ms[j].EventTime) {
			return ms[i].EventTime.Before(ms[j].EventTime)
		}
		return ms[i].EventID < ms[j].EventID
	})
}

func ruleIDs(cs []*compiled) string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.rule.ID
	}
	return strings.Join(ids, ", ")
}

// maxSQLRows bounds the rows one run of a SQL rule may return (a commit's evaluation; a hunt
// streams them instead, streamSQL, unless the engine cannot sort them as Go does):
// each row is a match held in memory with every column the rule selects, and the engine
// materialises the result first. Unbounded, one rule (SELECT e.*, r.range FROM range(20000) AS
// r, {events} AS e: 6.2M rows over 310 events) took an ingest past 23 GB. Past it the rule
// fails — kept with the rule, the other rules still alert — instead of the process. A var for
// tests.
var maxSQLRows = 250_000

// runSQL runs a SQL rule with {events} bound to relation. Its result columns named eventtime,
// eventid, eventname, principal, account (or recipientaccountid), region (or awsregion) and
// sourceipaddress fill the match's fields (sqlMatch). A result of more than maxSQLRows rows is
// an error (read up to one more: the engine stops there).
func (c *compiled) runSQL(ctx context.Context, s *query.Session, relation string) ([]Match, error) {
	res, err := s.RunInternal(ctx, "WITH "+engine.Ident(eventsTable)+" AS "+relation+" SELECT * FROM ("+c.sql+") AS rule_result LIMIT "+strconv.Itoa(maxSQLRows+1))
	if err != nil {
		return nil, err
	}
	if len(res.Rows) > maxSQLRows {
		return nil, fmt.Errorf("the SQL rule returned more than %d rows (each row is a match): narrow it with WHERE or aggregate with GROUP BY", maxSQLRows)
	}
	out := make([]Match, 0, len(res.Rows))
	for i, row := range res.Rows {
		out = append(out, c.sqlMatch(res.Columns, row))
		res.Rows[i] = nil // the match keeps what it needs; the row's other columns can go
	}
	return out, nil
}

// streamSQL runs SQL rule c with {events} bound to relation as runSQL does, and hands its matches
// to fn oldest first, then by event id — the order sortMatches gives runSQL's — as the engine
// returns them sorted, so that a hunt holds one at a time and is not bounded by maxSQLRows.
// ok is false, and nothing is run, when the engine's order cannot be Go's: the result names
// eventtime or eventid twice, or as a type sqlMatch does not read as the engine orders it (a
// time as text, an id as a number); the caller runs the rule bounded then.
func (c *compiled) streamSQL(ctx context.Context, s *query.Session, relation string, fn func(*Match) error) (n int, ok bool, err error) {
	with := "WITH " + engine.Ident(eventsTable) + " AS " + relation + " SELECT * FROM (" + c.sql + ") AS rule_result"
	probe, err := s.RunInternal(ctx, with+" LIMIT 0")
	if err != nil {
		return 0, true, err
	}
	var byTime, byID []string
	for _, col := range probe.Columns {
		switch strings.ToLower(col.Name) {
		case "eventtime":
			if !strings.HasPrefix(col.Type, "TIMESTAMP") && col.Type != "DATE" {
				return 0, false, nil
			}
			byTime = append(byTime, engine.Ident(col.Name)+" ASC NULLS FIRST")
		case "eventid":
			if col.Type != "VARCHAR" {
				return 0, false, nil
			}
			byID = append(byID, engine.Ident(col.Name)+" ASC NULLS FIRST")
		}
	}
	if len(byTime) > 1 || len(byID) > 1 {
		return 0, false, nil
	}
	sql := with
	if order := slices.Concat(byTime, byID); len(order) > 0 {
		sql += " ORDER BY " + strings.Join(order, ", ")
	}
	var fnErr error
	_, err = s.EachInternal(ctx, sql, func(row []any) error {
		m := c.sqlMatch(probe.Columns, row)
		if fnErr = fn(&m); fnErr != nil {
			return fnErr
		}
		n++
		return nil
	})
	if fnErr != nil {
		return n, true, fnErr
	}
	return n, true, err
}

// summaryValueMax bounds each value a SQL rule's match summary quotes (a rule may return a
// request's whole parameters).
const summaryValueMax = 200

// storeColumns are the CloudTrail store's column names: in the summary of a match that is an
// event, summarized by its name, source, principal and address instead.
var storeColumns = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range ctparquet.CloudTrailColumns {
		m[c.Name] = true
	}
	return m
}()

// sqlMatch is the match of one result row of a SQL rule. A row that names an event (an
// eventname column: SELECT * FROM {events} WHERE …) is summarized as a Sigma rule's match is,
// "name (source) by principal from address" (the parts it has), its principal taken from useridentity when the
// rule gives no principal column, followed by the columns the rule computed (those not of the
// store); another row (an aggregate) by its columns. Each summary lists name=value of scalar
// columns only (not eventjson, structs, maps, lists or blobs), each value cut at summaryValueMax.
func (c *compiled) sqlMatch(cols []engine.Column, row []any) Match {
	m := c.match()
	source, principal := "", false
	var identity map[string]any
	for i, col := range cols {
		v := row[i]
		switch strings.ToLower(col.Name) {
		case "eventtime":
			m.EventTime, _ = v.(time.Time)
		case "eventid":
			m.EventID = str(v)
		case "eventname":
			m.EventName = str(v)
		case "principal":
			m.Principal, principal = str(v), true
		case "account", "recipientaccountid":
			m.Account = str(v)
		case "region", "awsregion":
			m.Region = str(v)
		case "sourceipaddress":
			m.SourceIP = str(v)
		case "eventsource":
			source = str(v)
		case "useridentity":
			identity, _ = v.(map[string]any)
		}
	}
	if !principal && identity != nil {
		for _, k := range []string{"arn", "principalid", "type"} { // as recordKey groups
			if p, ok := identity[k].(string); ok {
				m.Principal = p
				break
			}
		}
	}
	event := m.EventName != ""
	var parts []string
	for i, col := range cols {
		name := strings.ToLower(col.Name)
		if name == "eventjson" || (event && storeColumns[name]) {
			continue
		}
		if v := row[i]; v != nil {
			switch reflect.TypeOf(v).Kind() {
			case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
				if _, ok := v.(fmt.Stringer); !ok { // a time, UUID or decimal is kept
					continue
				}
			}
		}
		parts = append(parts, col.Name+"="+truncate(str(row[i]), summaryValueMax))
	}
	if event {
		// What the row does not give is left out (an aggregate by eventname has no source).
		head := m.EventName
		if source != "" {
			head += " (" + source + ")"
		}
		if m.Principal != "" {
			head += " by " + m.Principal
		}
		if m.SourceIP != "" {
			head += " from " + m.SourceIP
		}
		parts = append([]string{head}, parts...)
	}
	m.Summary = strings.Join(parts, " ")
	return m
}

// launches is the launch-compliance verdict over the launches in target's time range: one
// match per instance not launched from an approved template. known, when not nil, are the
// launch events of target's Files by id, with their names (read in Go as they were written);
// facts, when not nil, are every EC2 lifecycle fact of the store (as the session sees it): the
// verdict is then computed from them in Go (compliance.FromFacts) instead of by the report.
func (c *compiled) launches(ctx context.Context, open Opener, target Target, known map[string]string, facts []lifecycle.Fact) ([]Match, error) {
	p, launchName, inFiles, err := c.launchParams(ctx, open, target, known)
	if err != nil || p == nil {
		return nil, err
	}
	var rows []compliance.Row
	if facts != nil {
		rows = compliance.FromFacts(facts, *p) // the same rows, from the store's facts in hand
	} else {
		s, err := open()
		if err != nil {
			return nil, err
		}
		rep, err := compliance.LaunchCompliance(ctx, s, *p)
		if err != nil {
			return nil, err
		}
		rows = rep.Rows
	}
	var out []Match
	for i := range rows {
		if rows[i].Status == compliance.StatusApproved || (inFiles != nil && !inFiles[rows[i].LaunchEventID]) {
			continue
		}
		out = append(out, c.launchMatch(&rows[i], launchName))
	}
	return out, nil
}

// streamLaunches hands fn the matches launches returns over target's time range (target.Files
// nil), in Evaluate's order, without holding them: the verdict's rows come ordered by launch
// time, so only the matches of one launch time are held, to be ordered by event id.
func (c *compiled) streamLaunches(ctx context.Context, s *query.Session, target Target, fn func(*Match) error) (int, error) {
	p, launchName, _, err := c.launchParams(ctx, SessionOpener(s), target, nil)
	if err != nil || p == nil {
		return 0, err
	}
	var same []Match // the matches of one launch time
	n := 0
	flush := func() error {
		sortMatches(same)
		for i := range same {
			if err := fn(&same[i]); err != nil {
				return err
			}
			n++
		}
		same = same[:0]
		return nil
	}
	err = compliance.EachLaunch(ctx, s, *p, func(row *compliance.Row) error {
		if row.Status == compliance.StatusApproved {
			return nil
		}
		m := c.launchMatch(row, launchName)
		if len(same) > 0 && !same[0].EventTime.Equal(m.EventTime) {
			if err := flush(); err != nil {
				return err
			}
		}
		same = append(same, m)
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// launchParams is the verdict's parameters over target, the launch events' names by id and,
// for target's Files, the ids of the launches in them; nil parameters when the files hold no
// launch (no match).
func (c *compiled) launchParams(ctx context.Context, open Opener, target Target, known map[string]string) (*compliance.Params, map[string]string, map[string]bool, error) {
	p := compliance.Params{Store: target.Store.ID, Approved: c.rule.Approved.Approvals, RequireAutoScaling: c.rule.Approved.RequireAutoScaling}
	var inFiles map[string]bool
	if target.Files != nil {
		// The verdict needs the store's history (template names, $Latest); the launches are
		// those of the files' time span whose event is in the files.
		for _, f := range target.Files {
			if target.From.IsZero() || f.MinTime.Before(target.From) {
				target.From = f.MinTime
			}
			if end := f.MaxTime.Add(time.Microsecond); end.After(target.To) {
				target.To = end
			}
		}
	}
	// A launch is a RunInstances or a CreateFleet call (package lifecycle's launch facts): the
	// batch's launch events, or over a time range the CreateFleet ones (any other is a
	// RunInstances), by event id with their names.
	launchName := known
	if known == nil || target.Files == nil {
		s, err := open()
		if err != nil {
			return nil, nil, nil, err
		}
		launchSQL := "SELECT DISTINCT eventid, eventname FROM " + target.relation(s) + " AS events WHERE eventname IN ('RunInstances', 'CreateFleet')"
		if target.Files == nil {
			launchSQL = "SELECT DISTINCT eventid, eventname FROM " + target.relation(s) + " AS events WHERE eventname = 'CreateFleet'"
		}
		res, err := s.RunInternal(ctx, launchSQL)
		if err != nil {
			return nil, nil, nil, err
		}
		launchName = map[string]string{}
		for _, r := range res.Rows {
			launchName[str(r[0])] = str(r[1])
		}
	}
	if target.Files != nil {
		if len(launchName) == 0 {
			// No launch in the batch: its matches would be none of the verdict's rows, which
			// read the store's history over the batch's time span.
			return nil, nil, nil, nil
		}
		inFiles = map[string]bool{}
		for id := range launchName {
			inFiles[id] = true
		}
	}
	if !target.From.IsZero() {
		p.From = &target.From
	}
	if !target.To.IsZero() {
		p.To = &target.To
	}
	return &p, launchName, inFiles, nil
}

// launchMatch is the match of a verdict's row that is not approved.
func (c *compiled) launchMatch(row *compliance.Row, launchName map[string]string) Match {
	m := c.match()
	m.Resource = row.InstanceID
	m.EventTime, m.EventID, m.EventName = row.LaunchedAt, row.LaunchEventID, "RunInstances"
	if n := launchName[row.LaunchEventID]; n != "" {
		m.EventName = n
	}
	m.Principal, m.Account, m.Region = row.LaunchedBy, row.AccountID, row.Region
	tmpl := row.TemplateID
	if row.TemplateName != "" {
		tmpl = strings.TrimSpace(tmpl + " (" + row.TemplateName + ")")
	}
	if tmpl == "" {
		tmpl = "no template"
	} else if row.TemplateVersion != "" {
		tmpl += " version " + row.TemplateVersion
	}
	m.Summary = fmt.Sprintf("instance %s launched by %s via %s from %s: %s (%s)",
		row.InstanceID, dash(row.LaunchedBy), row.Launcher, tmpl, row.Status, row.Reason)
	return m
}

func (c *compiled) match() Match {
	return Match{Rule: c.rule.ID, Title: c.rule.Title, Severity: c.rule.Severity}
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
