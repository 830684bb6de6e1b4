package rules

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/prefetch"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/sigma"
)

// GoEval evaluates rules in Go on the decoded records of a batch as its files are written,
// instead of reading the committed files back in SQL: each Sigma rule with a Go matcher
// (sigma.Rule.Match, the same verdict as its SQL predicate) and the built-ins but
// launch-compliance. An event whose verdict needs the engine (sigma.Unknown) is evaluated
// again in SQL, over it alone; SQL rules, launch-compliance (only when the batch holds a
// launch) and Sigma rules without a Go matcher run in SQL over the batch's files, as before
// (EvaluateGroupedWith). Grouping is EvaluateGrouped's.
type GoEval struct {
	rules []goRule
	// token is this evaluator's, in the records it evaluated as they were decoded
	// (Record.Detected's upper half; never 0).
	token uint32
	mu    sync.RWMutex
	admit map[uint64][]admitted // by the records' KindHash: the rules whose prefilter admits them
	// admitRead is a copy of admit read without the lock (the decoding workers would otherwise
	// contend for mu's reader count on every record), published again with each kind added
	// while it has at most maxReadKinds; the kinds after those are looked up in admit.
	admitRead atomic.Pointer[map[uint64][]admitted]
	// single holds the index of the verdict list of rule i alone (2i: Yes, 2i+1: Unknown), 0
	// until it is made: most records that match match one rule, and take it without a lock.
	single []atomic.Uint32
	// verdicts are the distinct verdict lists Decoded found, by their text (hits as bytes);
	// their index is the lower half of a record's Detected. Index 0 is "nothing matched".
	verdicts map[string]uint32
	lists    [][]hit
	events   sync.Pool // of *sigma.Event
	// keys are the rules' keys (ruleKey): the rules every result of this evaluator judged.
	keys map[string]bool
}

// hit is one rule's verdict on an event other than No: the rule's index, and whether the
// verdict is Unknown (else Yes).
type hit struct {
	rule    uint16
	unknown bool
}

// admitted is the rules (indexes) whose prefilter admits events of one source and name.
type admitted struct {
	source, name     string
	noSource, noName bool
	ids              []int
}

// evaluators numbers GoEvals (their token).
var evaluators atomic.Uint32

type goRule struct {
	rule     Rule
	key      string
	grouping Grouping
	match    func(ev *sigma.Event) sigma.Verdict
	admits   func(source, name *string) sigma.Verdict
}

// ruleKey is what a Go result depends on of a rule: a result is used only for a rule that is
// still the same. It is the SHA-256 of those fields, so that the maps keyed by it (a file's
// result, merged thousands of times an ingest) hash 32 bytes rather than the rule's YAML.
func ruleKey(r Rule, g Grouping) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{r.ID, r.Kind, r.Sigma, r.Builtin, r.Severity, r.Title, g.Key, g.Window.String()}, "\x00")))
	return string(sum[:])
}

// NewGoEval prepares the rules of rs (with their groupings gs) that have a Go evaluation.
func NewGoEval(rs []Rule, gs []Grouping) *GoEval {
	e := &GoEval{admit: map[uint64][]admitted{}, verdicts: map[string]uint32{"": 0}, lists: [][]hit{nil}, keys: map[string]bool{}}
	for e.token == 0 {
		e.token = evaluators.Add(1)
	}
	e.events.New = func() any { return new(sigma.Event) }
	for i, r := range rs {
		gr := goRule{rule: r, key: ruleKey(r, gs[i]), grouping: gs[i]}
		switch r.Kind {
		case KindSigma:
			sr, err := sigma.Parse(r.File, []byte(r.Sigma))
			if err != nil || !sr.HasGo() {
				continue
			}
			gr.match, gr.admits = sr.Match, sr.Admits
		case KindBuiltin:
			gr.match, gr.admits = builtinGo(r.Builtin)
			if gr.match == nil {
				continue
			}
		default:
			continue
		}
		e.rules = append(e.rules, gr)
		e.keys[gr.key] = true
		if len(e.rules) == maxGoRules {
			break // the others run in SQL
		}
	}
	e.single = make([]atomic.Uint32, 2*len(e.rules))
	return e
}

// maxReadKinds bounds the event kinds (source and name) whose admitted rules are read without
// a lock (each kind added copies them).
var maxReadKinds = 1024

// builtinGo is a built-in rule's predicate (Builtins) in Go, and its prefilter; nil for
// launch-compliance.
func builtinGo(name string) (match func(ev *sigma.Event) sigma.Verdict, admits func(source, name *string) sigma.Verdict) {
	is := func(p *string, v string) bool { return p != nil && *p == v }
	any := func(*string, *string) sigma.Verdict { return sigma.Yes }
	switch name {
	case "root-account-use":
		return func(ev *sigma.Event) sigma.Verdict {
			u := ev.R.UserIdentity
			return yesIf(u != nil && is(u.Type, "Root") && u.InvokedBy == nil && !is(ev.R.EventType, "AwsServiceEvent"))
		}, any
	case "cloudtrail-logging-stopped":
		return func(ev *sigma.Event) sigma.Verdict {
				r := ev.R
				return yesIf(is(r.EventSource, "cloudtrail.amazonaws.com") && (is(r.EventName, "StopLogging") || is(r.EventName, "DeleteTrail")) && r.ErrorCode == nil)
			}, func(source, name *string) sigma.Verdict {
				return yesIf(is(source, "cloudtrail.amazonaws.com") && (is(name, "StopLogging") || is(name, "DeleteTrail")))
			}
	case "console-login-without-mfa":
		return func(ev *sigma.Event) sigma.Verdict {
				r := ev.R
				if !is(r.EventName, "ConsoleLogin") || r.UserIdentity == nil || !(is(r.UserIdentity.Type, "IAMUser") || is(r.UserIdentity.Type, "Root")) {
					return sigma.No
				}
				login, ok, unk1 := sigma.LookupMap(r.ResponseElements, "ConsoleLogin")
				mfa, ok2, unk2 := sigma.LookupMap(r.AdditionalEventData, "MFAUsed")
				_, saml, unk3 := sigma.LookupMap(r.AdditionalEventData, "SamlProviderArn")
				if unk1 || unk2 || unk3 {
					return sigma.Unknown
				}
				if !ok || login != "Success" || !ok2 || saml {
					return sigma.No
				}
				return sigma.LowerIs(mfa, "no")
			}, func(_, name *string) sigma.Verdict {
				return yesIf(is(name, "ConsoleLogin"))
			}
	}
	return nil, nil
}

func yesIf(b bool) sigma.Verdict {
	if b {
		return sigma.Yes
	}
	return sigma.No
}

// GoResult is what GoEval found in one data file (or several, Merge): by rule key, its
// matches grouped, and the events whose verdict needs the engine.
type GoResult struct {
	// evaluated are the keys of the rules judged (a rule with no match has no groups); shared
	// by the results of one GoEval.
	evaluated map[string]bool
	groups    map[string]map[groupKey]*goGroup
	unknown   map[string][]string
	// Launch: the files hold a RunInstances or CreateFleet (launch-compliance has something
	// to judge); launches are their event ids and names.
	Launch   bool
	launches map[string]string
	// arenas hold the matched events' ids (idItem); an id of 0xffff bytes or more has an arena
	// of its own (its idItem's n is 0xffff).
	arenas [][]byte
	// Facts are the EC2 lifecycle facts of the file's records (launches and templates, as
	// lifecycle.Of gives them and the store keeps them beside the file), their strings copied.
	Facts []lifecycle.Fact
	// facts, when set (UseFacts), holds the store's facts: launch-compliance is judged from
	// them in Go (compliance.FromFacts) instead of by the report's SQL.
	facts *FactsCache
}

// UseFacts has EvaluateGroupedWith judge launch-compliance from the store's facts kept in c
// (FactsCache.Store) rather than in SQL.
func (res *GoResult) UseFacts(c *FactsCache) { res.facts = c }

type groupKey struct {
	key    string
	bucket int64
}

type goGroup struct {
	first Match
	// source: first.Summary holds its event source still (recordMatch), and finishGroups
	// makes its summary — made for a file's first match in each group, most of them were
	// dropped when the files' results merged.
	source bool
	items  []idItem
	// chunks are the items of the groups of other results merged into this one (Merge), not
	// copied: each chunk's arena indexes are shift less than this result's.
	chunks []itemChunk
}

// itemChunk is a merged group's items, whose arena indexes are shift less than those of the
// result they were merged into.
type itemChunk struct {
	items []idItem
	shift uint32
}

// before says whether an event at t with id comes before g's first match (time, then id): it
// becomes the group's first.
func (g *goGroup) before(t time.Time, id string) bool {
	return t.Before(g.first.EventTime) || (t.Equal(g.first.EventTime) && id < g.first.EventID)
}

// count is how many items g holds, its chunks' included.
func (g *goGroup) count() int {
	n := len(g.items)
	for _, c := range g.chunks {
		n += len(c.items)
	}
	return n
}

// allItems is g's items and its chunks', their arena indexes shifted to the result's, in one
// slice made for it.
func (g *goGroup) allItems() []idItem {
	if len(g.chunks) == 0 {
		return g.items
	}
	out := make([]idItem, 0, g.count())
	out = append(out, g.items...)
	for _, c := range g.chunks {
		for _, it := range c.items {
			it.arena += c.shift
			out = append(out, it)
		}
	}
	return out
}

// idItem is a matched event's time (Unix microseconds) and id: bytes [off, off+n) of its
// result's arenas[arena]. No pointers: a million of them cost the collector nothing (an
// ingest runs with its heap near a limit, and 784k matched ids as strings made it collect
// again and again).
type idItem struct {
	us    int64
	off   uint32
	n     uint16
	arena uint32
}

// maxGoRules is the most rules a GoEval evaluates (a hit's rule index is 16 bits).
const maxGoRules = 1 << 15

// maxVerdictLists bounds the distinct verdict lists Decoded keeps (records crafted so that
// each matches another set of rules would otherwise grow it with every record); a record whose
// list is not kept is matched again by File.
var maxVerdictLists = 1 << 16

// admittedBy returns the indexes of the rules whose prefilter admits rec's source and name.
func (e *GoEval) admittedBy(rec *cloudtrail.Record) []int {
	h := rec.KindHash()
	same := func(a *admitted) bool {
		return a.noSource == (rec.EventSource == nil) && a.noName == (rec.EventName == nil) &&
			(rec.EventSource == nil || a.source == *rec.EventSource) && (rec.EventName == nil || a.name == *rec.EventName)
	}
	if m := e.admitRead.Load(); m != nil {
		for i := range (*m)[h] {
			if a := &(*m)[h][i]; same(a) {
				return a.ids
			}
		}
	}
	e.mu.RLock()
	for i := range e.admit[h] {
		if a := &e.admit[h][i]; same(a) {
			e.mu.RUnlock()
			return a.ids
		}
	}
	e.mu.RUnlock()
	a := admitted{noSource: rec.EventSource == nil, noName: rec.EventName == nil, ids: []int{}}
	if rec.EventSource != nil {
		a.source = strings.Clone(*rec.EventSource)
	}
	if rec.EventName != nil {
		a.name = strings.Clone(*rec.EventName)
	}
	for i, r := range e.rules {
		if r.admits(rec.EventSource, rec.EventName) != sigma.No {
			a.ids = append(a.ids, i)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.admit[h] {
		if b := &e.admit[h][i]; same(b) {
			return b.ids
		}
	}
	e.admit[h] = slices.Clip(append(e.admit[h], a))
	if len(e.admit) <= maxReadKinds {
		read := maps.Clone(e.admit)
		e.admitRead.Store(&read)
	}
	return a.ids
}

// hits appends the verdicts of the rules on rec that are not No to out.
func (e *GoEval) hits(rec *cloudtrail.Record, out []hit) []hit {
	ids := e.admittedBy(rec)
	if len(ids) == 0 {
		return out
	}
	ev := e.events.Get().(*sigma.Event)
	ev.Reset(rec)
	for _, ri := range ids {
		switch e.rules[ri].match(ev) {
		case sigma.Yes:
			out = append(out, hit{rule: uint16(ri)})
		case sigma.Unknown:
			out = append(out, hit{rule: uint16(ri), unknown: true})
		}
	}
	ev.Reset(nil)
	e.events.Put(ev)
	return out
}

// Decoded evaluates the rules on rec as it is decoded (ingest.Options.Decoded: in the decoding
// workers, in parallel), and keeps the verdicts in rec.Detected for File to take. Safe for
// concurrent use.
func (e *GoEval) Decoded(rec *cloudtrail.Record) {
	var buf [8]hit
	hs := e.hits(rec, buf[:0])
	// A launch is flagged here, where the record is in the cache: File then reads only
	// Detected of a record that matched nothing (its name was a cache miss per record there).
	tok := uint64(e.token) << 32
	if isLaunch(rec) {
		tok |= launchBit
	}
	var slot *atomic.Uint32
	switch len(hs) {
	case 0:
		rec.Detected = tok // list 0: nothing matched
		return
	case 1:
		slot = &e.single[2*int(hs[0].rule)]
		if hs[0].unknown {
			slot = &e.single[2*int(hs[0].rule)+1]
		}
		if i := slot.Load(); i != 0 {
			rec.Detected = tok | uint64(i)
			return
		}
	}
	var kb [24]byte
	key := kb[:0]
	for _, h := range hs {
		u := byte(0)
		if h.unknown {
			u = 1
		}
		key = append(key, byte(h.rule), byte(h.rule>>8), u)
	}
	e.mu.RLock()
	i, ok := e.verdicts[string(key)]
	e.mu.RUnlock()
	if !ok {
		e.mu.Lock()
		if i, ok = e.verdicts[string(key)]; !ok {
			if len(e.lists) >= maxVerdictLists {
				e.mu.Unlock()
				return // not kept: File matches the record again
			}
			i = uint32(len(e.lists))
			e.lists = append(e.lists, slices.Clone(hs))
			e.verdicts[string(key)] = i
		}
		e.mu.Unlock()
	}
	if slot != nil {
		slot.Store(i)
	}
	rec.Detected = tok | uint64(i)
}

// launchBit in a record's Detected says it is a launch (isLaunch); the verdict list's index is
// below it (maxVerdictLists).
const launchBit = 1 << 31

// isLaunch says whether rec is a RunInstances or CreateFleet (launch-compliance has something to
// judge in its file).
func isLaunch(rec *cloudtrail.Record) bool {
	n := rec.EventName
	return n != nil && (*n == "RunInstances" || *n == "CreateFleet")
}

// File evaluates the rules on recs, the records of one data file: a record Decoded evaluated
// gives its verdicts from then; another is matched now.
func (e *GoEval) File(recs []*cloudtrail.Record) *GoResult {
	return e.FileFacts(recs, lifecycle.Of(recs))
}

// FileFacts is File, with facts the EC2 lifecycle facts of recs (lifecycle.Of(recs), as the
// writer computed them for the file's facts file: not computed again).
func (e *GoEval) FileFacts(recs []*cloudtrail.Record, facts []lifecycle.Fact) *GoResult {
	res := &GoResult{evaluated: e.keys, groups: map[string]map[groupKey]*goGroup{}, unknown: map[string][]string{}, arenas: [][]byte{nil}}
	// The rules' groups, made for the rules that match (most match nothing in a file); last is
	// each rule's group of its last match, which the next one often shares (one lookup of the
	// key, a principal's ARN, saved).
	perRule := make([]map[groupKey]*goGroup, len(e.rules))
	last := make([]lastGroup, len(e.rules))
	intern := map[string]string{}
	in := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		v := strings.Clone(s)
		intern[v] = v
		return v
	}
	e.mu.RLock()
	lists := e.lists // append-only: every index a record holds is in it
	e.mu.RUnlock()
	decoded := func(rec *cloudtrail.Record) ([]hit, bool) {
		if d := rec.Detected; d != 0 && uint32(d>>32) == e.token && int(uint32(d)&^launchBit) < len(lists) {
			return lists[uint32(d)&^launchBit], true
		}
		return nil, false
	}
	// The matched events' ids go into one arena of their size, counted first (grown as they
	// came, it was most of File's allocation: a rule matching most events copies most ids).
	// The verdicts of a record Decoded did not judge are found here, and kept for the loop.
	// The walk waits on memory more than it computes (the records are in the file's order,
	// scattered over the heap): each record's Detected, then the parts of the records to
	// count, are fetched a few records ahead (prefetch), and a record that matched nothing
	// and is no launch is visited once, by its Detected alone.
	// Decoded's verdicts of the others, found here, are kept for the second loop (matched).
	var work []int32 // indexes in recs
	var matched map[*cloudtrail.Record][]hit
	size := 0
	for i, rec := range recs {
		if j := i + 16; j < len(recs) {
			prefetch.Lines(unsafe.Pointer(&recs[j].Detected), 1)
		}
		hs, ok := decoded(rec)
		if !ok {
			if hs = e.hits(rec, nil); len(hs) > 0 {
				if matched == nil {
					matched = map[*cloudtrail.Record][]hit{}
				}
				matched[rec] = hs
			}
			if len(hs) == 0 && !isLaunch(rec) {
				continue
			}
		} else if len(hs) == 0 && rec.Detected&launchBit == 0 {
			continue
		}
		if work == nil {
			work = make([]int32, 0, len(recs)-i)
		}
		work = append(work, int32(i))
		for _, h := range hs {
			if !h.unknown && len(rec.EventID) < 0xffff {
				size += len(rec.EventID)
			}
		}
	}
	if size > 0 {
		res.arenas[0] = make([]byte, 0, min(size, 1<<31))
	}
	for i, ri := range work {
		if j := i + 8; j < len(work) {
			prefetch.Lines(unsafe.Pointer(recs[work[j]]), 4) // the identity, time, name and id
		}
		if j := i + 4; j < len(work) {
			r := recs[work[j]]
			prefetch.Lines(unsafe.Pointer(unsafe.StringData(r.EventID)), 1)
			prefetch.Lines(unsafe.Pointer(r.UserIdentity), 1)
		}
		if j := i + 2; j < len(work) {
			if u := recs[work[j]].UserIdentity; u != nil && u.ARN != nil {
				prefetch.Lines(unsafe.Pointer(unsafe.StringData(*u.ARN)), 2)
			}
		}
		rec := recs[ri]
		hs, ok := decoded(rec)
		if !ok {
			hs = matched[rec]
		}
		if (ok && rec.Detected&launchBit != 0) || (!ok && isLaunch(rec)) {
			res.Launch = true
			if res.launches == nil {
				res.launches = map[string]string{}
			}
			res.launches[strings.Clone(rec.EventID)] = *rec.EventName
		}
		for _, h := range hs {
			r := &e.rules[h.rule]
			if h.unknown {
				res.unknown[r.key] = append(res.unknown[r.key], strings.Clone(rec.EventID))
				continue
			}
			if perRule[h.rule] == nil {
				perRule[h.rule] = map[groupKey]*goGroup{}
			}
			res.addRecord(perRule[h.rule], &last[h.rule], r.grouping, rec, in)
		}
	}
	for i, r := range e.rules {
		if perRule[i] != nil {
			res.groups[r.key] = perRule[i]
		}
	}
	for _, f := range facts {
		if f.Kind == "launch" || f.Kind == "template" {
			res.Facts = append(res.Facts, cloneFact(f))
		}
	}
	return res
}

// cloneFact is f with its strings copied (a fact of lifecycle.Of points into its record): their
// text in one string, and the values its fields point to in one block (a string and a box each
// were some 35 small objects a fact, kept for the whole ingest by the watcher's FactsCache and
// marked again at each collection).
func cloneFact(f lifecycle.Fact) lifecycle.Fact {
	ptrs := [...]**string{&f.InstanceID, &f.EventName, &f.AWSRegion, &f.AccountID, &f.PrincipalARN, &f.IssuerARN,
		&f.SourceIdentity, &f.InvokedBy, &f.UserAgent, &f.Console, &f.ClientToken, &f.LTID, &f.LTName, &f.LTVersion,
		&f.Tags, &f.Lifecycle, &f.Reason, &f.DefaultVersion}
	size := len(f.Kind) + len(f.EventID)
	for _, p := range ptrs {
		if *p != nil {
			size += len(**p)
		}
	}
	var text strings.Builder
	text.Grow(size)
	text.WriteString(f.Kind)
	text.WriteString(f.EventID)
	for _, p := range ptrs {
		if *p != nil {
			text.WriteString(**p)
		}
	}
	all := text.String()
	next := func(n int) string {
		s := all[:n]
		all = all[n:]
		return s
	}
	f.Kind, f.EventID = next(len(f.Kind)), next(len(f.EventID))
	blk := new(factBlock)
	for i, p := range ptrs {
		if *p != nil {
			blk.strs[i] = next(len(**p))
			*p = &blk.strs[i]
		}
	}
	if f.Src != nil {
		blk.src = *f.Src
		f.Src = &blk.src
	}
	return f
}

// factBlock holds what a fact cloneFact made points to.
type factBlock struct {
	strs [18]string
	src  int32
}

// FactsCache keeps the launch and template facts of a store's data files by path (the files a
// watcher saw written, GoResult.Facts, and those it read once), for launch-compliance in Go.
type FactsCache struct {
	lk     *lake.Lake
	mu     sync.Mutex
	byPath map[string][]lifecycle.Fact
	seen   map[string]bool // paths in a snapshot Store was given: forgotten once they leave it
}

// NewFactsCache is an empty cache of facts of lk's stores.
func NewFactsCache(lk *lake.Lake) *FactsCache {
	return &FactsCache{lk: lk, byPath: map[string][]lifecycle.Fact{}, seen: map[string]bool{}}
}

// Add keeps facts as those of data file path.
func (c *FactsCache) Add(path string, facts []lifecycle.Fact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byPath[path] = facts
}

// Append adds facts to those kept of data file path (a file written a part at a time: a
// held file, ingest.Options.Written), keeping them as its facts if none were.
func (c *FactsCache) Append(path string, facts []lifecycle.Fact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byPath[path] = append(c.byPath[path], facts...)
}

// Drop forgets the facts kept of data files that were written but not committed
// (ingest.Options.Uncommitted): they are in no snapshot, so Store would never see them leave
// one. Should a failed commit have named a file after all, Store reads its facts file again.
func (c *FactsCache) Drop(files []lake.DataFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		delete(c.byPath, f.Path)
		delete(c.seen, f.Path)
	}
}

// Len is how many data files' facts c keeps.
func (c *FactsCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byPath)
}

// Store returns every launch and template fact of store storeID as session s sees it (the
// facts files of its data files, query.Session.FactsFiles): those kept, and those of the other
// files read from their facts files (and kept); files that left the store are forgotten. nil
// when the session computes some of the facts from the events (the caller uses the SQL).
func (c *FactsCache) Store(ctx context.Context, s *query.Session, storeID string) ([]lifecycle.Fact, error) {
	files, ok := s.FactsFiles(storeID)
	if !ok {
		return nil, nil
	}
	return c.files(ctx, storeID, files, SessionOpener(s))
}

// files is Store over files, the store's every data file (each with its facts file): a
// session is opened only to read the facts files of those not kept.
func (c *FactsCache) files(ctx context.Context, storeID string, files []lake.DataFile, open Opener) ([]lifecycle.Fact, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := make(map[string]bool, len(files))
	n := 0
	for _, f := range files {
		live[f.Path], c.seen[f.Path] = true, true
		facts, ok := c.byPath[f.Path]
		if !ok && f.Facts != "" {
			s, err := open()
			if err != nil {
				return nil, err
			}
			if facts, err = compliance.ReadFacts(ctx, s, "read_parquet("+engine.Literal(c.lk.AbsPath(storeID, f.Facts))+")"); err != nil {
				return nil, err
			}
			c.byPath[f.Path] = facts
		}
		n += len(facts)
	}
	// One slice of the store's facts, its size known (appended as they came, it grew again
	// and again at each evaluation with a launch: 0.15 s of a 1M ingest's CPU).
	out := make([]lifecycle.Fact, 0, n)
	for _, f := range files {
		out = append(out, c.byPath[f.Path]...)
	}
	for p := range c.seen {
		if !live[p] {
			delete(c.byPath, p)
			delete(c.seen, p)
		}
	}
	return out, nil
}

// recordKey is Grouping.key of rec's match (recordMatch), without making the match: "" and
// false when it needs one (a grouping by event).
func recordKey(g Grouping, rec *cloudtrail.Record) (string, bool) {
	val := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch g.Key {
	case "principal":
		if u := rec.UserIdentity; u != nil {
			switch {
			case u.ARN != nil:
				return *u.ARN, true
			case u.PrincipalID != nil:
				return *u.PrincipalID, true
			case u.Type != nil:
				return *u.Type, true
			}
		}
		return "", true
	case "account":
		return val(rec.RecipientAccountID), true
	case "region":
		return val(rec.AWSRegion), true
	case "resource":
		return "", true
	case "event":
		return "", false
	}
	return "", true
}

// lastGroup is a rule's group of its last match in a file (File), and its key.
type lastGroup struct {
	k  groupKey
	gr *goGroup
}

// addRecord counts record rec's match in groups (a rule's, grouped by g) as add does, making
// the match (recordMatch) only when it is its group's first; last is the rule's group of its
// previous match, taken without a lookup when rec's key is the same.
func (res *GoResult) addRecord(groups map[groupKey]*goGroup, last *lastGroup, g Grouping, rec *cloudtrail.Record, in func(string) string) {
	key, ok := recordKey(g, rec)
	if !ok {
		res.addTo(groups, g, recordMatch(rec, in), false)
		return
	}
	us, bucket := microsAndBucket(rec.EventTime, g.Window)
	k := groupKey{key: key}
	if g.Key != "event" && g.Window > 0 {
		k.bucket = bucket
	}
	gr := last.gr
	if gr == nil || last.k != k {
		gr = groups[k]
	}
	item := res.item(us, rec.EventID)
	if gr == nil || gr.before(time.UnixMicro(us).UTC(), rec.EventID) {
		m := recordMatch(rec, in)
		m.EventID = strings.Clone(m.EventID)
		if gr == nil {
			// Keyed by the match's copy of the key (g.key of it is rec's key), not by rec's memory.
			gr = &goGroup{}
			groups[groupKey{key: g.key(m), bucket: k.bucket}] = gr
		}
		gr.first, gr.source = m, true
	}
	gr.items = append(gr.items, item)
	// The key kept points into the group's first match (its strings are copies), not rec.
	last.k, last.gr = groupKey{key: g.key(gr.first), bucket: k.bucket}, gr
}

// microsAndBucket is t truncated to the microsecond (as the store keeps it) in Unix
// microseconds, and the start of its window of length w (as time.Time.Truncate aligns it: on
// the zero time) in Unix microseconds — in integers for a time since 1970 and a window of
// whole microseconds (the zero time is a whole number of seconds before 1970), else by time's
// methods. The bucket is 0 for w <= 0.
func microsAndBucket(t time.Time, w time.Duration) (us, bucket int64) {
	sec := t.Unix()
	if sec < 0 || sec > maxFastSec || w%time.Microsecond != 0 {
		tu := t.UTC().Truncate(time.Microsecond)
		if w > 0 {
			bucket = tu.Truncate(w).UnixMicro()
		}
		return tu.UnixMicro(), bucket
	}
	us = sec*1000000 + int64(t.Nanosecond())/1000
	if w > 0 {
		wu := int64(w / time.Microsecond)
		bucket = us - (us+zeroToUnixMicros)%wu
	}
	return us, bucket
}

// zeroToUnixMicros is the time from the zero time (January 1, year 1, UTC) to 1970 in
// microseconds; maxFastSec keeps a time's microseconds since the zero time within int64.
const (
	zeroToUnixMicros = 62135596800 * 1000000
	maxFastSec       = (math.MaxInt64-zeroToUnixMicros)/1000000 - 1
)

// recordMatch is the match of record rec as a predicate rule's query gives it (packedMatch),
// its strings copied (in) so that it holds none of the record's memory.
func recordMatch(rec *cloudtrail.Record, in func(string) string) Match {
	val := func(p *string) string {
		if p == nil {
			return ""
		}
		return in(*p)
	}
	m := Match{EventTime: rec.EventTime.UTC().Truncate(time.Microsecond), EventID: rec.EventID,
		EventName: val(rec.EventName), Account: val(rec.RecipientAccountID), Region: val(rec.AWSRegion), SourceIP: val(rec.SourceIPAddress)}
	if u := rec.UserIdentity; u != nil {
		switch {
		case u.ARN != nil:
			m.Principal = in(*u.ARN)
		case u.PrincipalID != nil:
			m.Principal = in(*u.PrincipalID)
		case u.Type != nil:
			m.Principal = in(*u.Type)
		}
	}
	// The summary is made for a group's first match only, when its groups are finished
	// (finishGroups): Summary holds the source until then.
	m.Summary = val(rec.EventSource)
	return m
}

// summarize makes m's summary of its source (held in Summary by recordMatch), as packedMatch.
func summarize(m *Match) {
	m.Summary = summaryOf(m.EventName, m.Summary, m.Principal, m.SourceIP)
}

// add counts match m of the rule with key rk in its group; unless summarized, m.Summary holds
// its event source (recordMatch), and finishGroups makes the summary if m stays its group's
// first.
func (res *GoResult) add(rk string, g Grouping, m Match, summarized bool) {
	groups := res.groups[rk]
	if groups == nil {
		groups = map[groupKey]*goGroup{}
		res.groups[rk] = groups
	}
	res.addTo(groups, g, m, summarized)
}

// addTo is add, into a rule's groups.
func (res *GoResult) addTo(groups map[groupKey]*goGroup, g Grouping, m Match, summarized bool) {
	k := groupKey{key: g.key(m)}
	if g.Key != "event" && g.Window > 0 {
		k.bucket = m.EventTime.Truncate(g.Window).UnixMicro()
	}
	item := res.item(m.EventTime.UnixMicro(), m.EventID)
	gr := groups[k]
	if gr == nil {
		m.EventID = strings.Clone(m.EventID)
		gr = &goGroup{first: m, source: !summarized}
		groups[k] = gr
	} else if gr.before(m.EventTime, m.EventID) {
		m.EventID = strings.Clone(m.EventID)
		gr.first, gr.source = m, !summarized
	}
	gr.items = append(gr.items, item)
}

// item keeps event id in res's arenas: its idItem, at time us.
func (res *GoResult) item(us int64, id string) idItem {
	if len(res.arenas) == 0 || len(res.arenas[len(res.arenas)-1])+len(id) > 1<<31 || len(id) >= 0xffff {
		res.arenas = append(res.arenas, nil)
	}
	a := len(res.arenas) - 1
	it := idItem{us: us, off: uint32(len(res.arenas[a])), n: uint16(len(id)), arena: uint32(a)}
	res.arenas[a] = append(res.arenas[a], id...)
	if len(id) >= 0xffff {
		it.n = 0xffff
		res.arenas = append(res.arenas, nil) // the next ids in another
	}
	return it
}

// Merge adds o's findings to res (o is left as it was).
func (res *GoResult) Merge(o *GoResult) {
	switch {
	case res.evaluated == nil:
		res.evaluated = o.evaluated
	case len(o.evaluated) > 0 && !sameMap(res.evaluated, o.evaluated):
		union := maps.Clone(res.evaluated)
		maps.Copy(union, o.evaluated)
		res.evaluated = union
	}
	res.Launch = res.Launch || o.Launch
	if res.facts == nil {
		res.facts = o.facts
	}
	if len(o.launches) > 0 && res.launches == nil {
		res.launches = map[string]string{}
	}
	maps.Copy(res.launches, o.launches)
	shift := uint32(len(res.arenas))
	res.arenas = append(res.arenas, o.arenas...)
	for rk, gs := range o.groups {
		mine := res.groups[rk]
		if mine == nil {
			mine = map[groupKey]*goGroup{}
			res.groups[rk] = mine
		}
		for k, g := range gs {
			have := mine[k]
			if have == nil {
				have = &goGroup{first: g.first, source: g.source}
				mine[k] = have
			} else if have.before(g.first.EventTime, g.first.EventID) {
				have.first, have.source = g.first, g.source
			}
			// o's items are shared, not copied (finishGroups gathers them once): o is not
			// changed after it is merged, and an append to either group's items writes past
			// what the other sees.
			if len(g.items) > 0 {
				have.chunks = append(have.chunks, itemChunk{items: slices.Clip(g.items), shift: shift})
			}
			for _, c := range g.chunks {
				have.chunks = append(have.chunks, itemChunk{items: c.items, shift: c.shift + shift})
			}
		}
	}
	for rk, ids := range o.unknown {
		res.unknown[rk] = append(res.unknown[rk], ids...)
	}
}

// sameMap says whether a and b are the same map (not merely equal).
func sameMap(a, b map[string]bool) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// NewGoResult is an empty result, to Merge files' results into.
func NewGoResult() *GoResult {
	return &GoResult{groups: map[string]map[groupKey]*goGroup{}, unknown: map[string][]string{}}
}

// EvaluateGroupedWith is EvaluateGrouped over the data files of target, whose records GoEval
// evaluated (res, every file's result merged): each rule the evaluation had (the same rule,
// grouped the same) takes its groups from res, and only its events with an Unknown verdict
// are read in SQL; the other rules run as EvaluateGrouped runs them (launch-compliance only
// when the files hold a launch).
//
// open is called only when some SQL is needed: when every rule is judged in Go (none has an
// Unknown verdict, launch-compliance's facts are kept: target.Facts with target.Live, or
// UseFacts), no session is opened.
func EvaluateGroupedWith(ctx context.Context, open Opener, rs []Rule, gs []Grouping, target Target, res *GoResult) ([][]MatchGroup, error) {
	if len(gs) != len(rs) {
		return nil, fmt.Errorf("rules: %d groupings for %d rules", len(gs), len(rs))
	}
	out := make([][]MatchGroup, len(rs))
	failed := RuleErrors{}
	var rest []Rule
	var restGs []Grouping
	var restIdx []int
	for i, r := range rs {
		rk := ruleKey(r, gs[i])
		groups, ok := res.groups[rk]
		if !ok {
			ok = res.evaluated[rk] // judged, no match
		}
		if !ok {
			if r.Kind == KindBuiltin && r.Builtin == LaunchCompliance {
				if !res.Launch {
					continue // no launch in the files: no verdict to give
				}
				c, err := compile(r)
				if err != nil {
					if failed.add(ctx, r.ID, err) {
						return nil, ctx.Err()
					}
					continue
				}
				// The files' launches are known: the verdict is the report's over their span.
				if target.Facts == nil {
					target.Facts = res.facts
				}
				facts, err := target.storeFacts(ctx, open)
				if err != nil {
					if failed.add(ctx, r.ID, err) {
						return nil, ctx.Err()
					}
					continue
				}
				ms, err := c.launches(ctx, open, target, res.launches, facts)
				if err != nil {
					if failed.add(ctx, r.ID, err) {
						return nil, ctx.Err()
					}
					continue
				}
				out[i] = GroupMatches(ms, gs[i])
				continue
			}
			rest, restGs, restIdx = append(rest, r), append(restGs, gs[i]), append(restIdx, i)
			continue
		}
		if ids := res.unknown[rk]; len(ids) > 0 {
			ms, err := evaluateEvents(ctx, open, r, target, ids)
			if err != nil {
				if failed.add(ctx, r.ID, err) {
					return nil, ctx.Err()
				}
				continue
			}
			if groups == nil {
				groups = map[groupKey]*goGroup{}
			}
			tmp := &GoResult{groups: map[string]map[groupKey]*goGroup{rk: groups}, arenas: append(slices.Clip(res.arenas), nil)}
			for _, m := range ms {
				tmp.add(rk, gs[i], m, true)
			}
			res.arenas = tmp.arenas
		}
		out[i] = finishGroups(r, groups, res.arenas)
	}
	if len(rest) > 0 {
		s, err := open()
		if err != nil {
			return nil, err
		}
		more, err := EvaluateGrouped(ctx, s, rest, restGs, target, "")
		if err != nil {
			re, ok := AsRuleErrors(err)
			if !ok {
				return nil, err
			}
			maps.Copy(failed, re)
		}
		for k, i := range restIdx {
			out[i] = more[k]
		}
	}
	return failed.result(out)
}

// evaluateEvents runs predicate rule r in SQL over the events of target with these ids.
func evaluateEvents(ctx context.Context, open Opener, r Rule, target Target, ids []string) ([]Match, error) {
	c, err := compile(r)
	if err != nil {
		return nil, err
	}
	s, err := open()
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	lits := make([]string, len(ids))
	for i, id := range ids {
		lits[i] = textLiteral(id)
	}
	ms, err := c.runPredicate(ctx, s, target.relation(s), "eventid IN ("+strings.Join(lits, ", ")+")")
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	return ms, nil
}

// smallGroup is the most items of a group whose ids finishGroups checks for repeats without a
// set (var: tests set it to 0, to take the set's path).
var smallGroup = 32

// finishGroups turns a rule's Go groups into MatchGroups as scanGrouped gives them: the first
// match, the events' ids oldest first (then by id, as orderedIDs), each once; the groups oldest
// first. A group's ids are sorted where they lie in the arenas and copied into one string the
// EventIDs share (a string per id made the collector track ~800k of them an ingest).
func finishGroups(r Rule, groups map[groupKey]*goGroup, arenas [][]byte) []MatchGroup {
	out := make([]MatchGroup, 0, len(groups))
	idOf := func(it idItem) []byte {
		a := arenas[it.arena]
		if it.n == 0xffff {
			return a // an id of its own arena
		}
		return a[it.off : it.off+uint32(it.n)]
	}
	for _, g := range groups {
		first := g.first
		if g.source {
			summarize(&first)
		}
		first.Rule, first.Title, first.Severity = r.ID, r.Title, r.Severity
		items := g.allItems()
		slices.SortFunc(items, func(a, b idItem) int {
			if c := cmp.Compare(a.us, b.us); c != 0 {
				return c
			}
			return bytes.Compare(idOf(a), idOf(b))
		})
		// The ids are written as the JSON array the alert's record holds (["id","id"]), the
		// EventIDs its substrings: the record takes the text whole (IDsJSON) instead of writing
		// each id again (~30 MB a 1M ingest, copied and escaped twice more before).
		var all strings.Builder
		size := 2
		for _, it := range items {
			size += len(idOf(it)) + 3
		}
		all.Grow(size)
		all.WriteByte('[')
		plain := true
		for i, it := range items {
			if i > 0 {
				all.WriteByte(',')
			}
			id := idOf(it)
			plain = plain && JSONPlain(id)
			all.WriteByte('"')
			all.Write(id)
			all.WriteByte('"')
		}
		all.WriteByte(']')
		text := all.String()
		ids := make([]string, 0, len(items))
		// An id twice (a duplicate event) counts at its first time: a small group's ids are
		// compared with those kept (no map made for each of the ~35,000 groups a 1M ingest
		// finds), a larger one's looked up in a set.
		var seen map[string]struct{}
		if len(items) > smallGroup {
			seen = make(map[string]struct{}, len(items))
		}
		off := 2 // past [ and the first "
		for _, it := range items {
			n := len(idOf(it))
			id := text[off : off+n]
			off += n + 3 // ","
			if seen != nil {
				if _, ok := seen[id]; ok {
					continue
				}
				seen[id] = struct{}{}
			} else if slices.Contains(ids, id) {
				continue
			}
			ids = append(ids, id)
		}
		g := MatchGroup{First: first, EventIDs: ids}
		if plain && len(ids) == len(items) { // else the text is not the ids' JSON
			g.IDsJSON = text
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b MatchGroup) int {
		if c := a.First.EventTime.Compare(b.First.EventTime); c != 0 {
			return c
		}
		return strings.Compare(a.First.EventID, b.First.EventID)
	})
	return out
}

// JSONPlain says that encoding/json writes s as it is between its quotes: s is printable ASCII
// but the bytes it escapes ('"', '\\' and, HTML-safe, '<', '>', '&'). It is false for some
// texts encoding/json leaves alone too (DEL, valid UTF-8 past ASCII): they are written by
// encoding/json. alerts writes its records' strings by it too.
func JSONPlain[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			return false
		}
	}
	return true
}

// jsonPlain holds the bytes JSONPlain admits: one load a byte, where seven comparisons were
// (~30 MB of event ids an ingest of 1M events).
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

// Files evaluates the rules on the records of written data files (recs[i] those of files[i]),
// one file per CPU at a time, and returns each file's result by path. facts, unless nil, are
// the files' EC2 lifecycle facts (facts[i] those of recs[i], FileFacts); nil: File computes
// them.
func (e *GoEval) Files(files []lake.DataFile, recs [][]*cloudtrail.Record, facts [][]lifecycle.Fact, workers int) map[string]*GoResult {
	out := make([]*GoResult, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, min(workers, len(files))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if facts != nil {
					out[i] = e.FileFacts(recs[i], facts[i])
				} else {
					out[i] = e.File(recs[i])
				}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	byPath := make(map[string]*GoResult, len(files))
	for i, f := range files {
		byPath[f.Path] = out[i]
	}
	return byPath
}
