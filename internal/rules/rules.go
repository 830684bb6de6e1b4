// Package rules is auditlake's detection rules: the registry of rules (<data>/rules.json, Sigma
// rules compiled by package sigma, SQL rules over {events}, and the built-in ones), and their
// evaluation over a relation of CloudTrail events (a store's time range for a hunt), which
// gives one Match per event (per instance for the launch-compliance rule).
package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/compliance"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/sigma"
)

// Rule kinds.
const (
	KindSigma   = "sigma"
	KindSQL     = "sql"
	KindBuiltin = "builtin"
)

// Severities, lowest first (Sigma's levels).
var Severities = []string{"informational", "low", "medium", "high", "critical"}

// Rule is one registered detection rule.
type Rule struct {
	// ID is the Sigma rule's id, or the NAME given to a SQL or built-in rule.
	ID          string `json:"id"`
	Title       string `json:"title"`
	Kind        string `json:"kind"`
	Severity    string `json:"severity"`
	Enabled     bool   `json:"enabled"`
	Description string `json:"description,omitempty"`
	// Sigma is the rule's YAML as added (compiled again on every load, so a rule never depends
	// on its file staying where it was), File where it was read from.
	Sigma string `json:"sigma,omitempty"`
	File  string `json:"file,omitempty"`
	// Compiled is the SHA-256 of the Sigma rule's SQL predicate when it was added: a rule
	// that compiles to another predicate now (auditlake reads it differently) is told apart
	// (Warnings). "" for a rule added before it was kept.
	Compiled string `json:"compiled,omitempty"`
	// SQL is a SQL rule's query: one SELECT in the Trino/Athena dialect reading {events}.
	SQL string `json:"sql,omitempty"`
	// Builtin names a built-in rule (Builtins); Approved is the launch-compliance allow-list.
	Builtin  string             `json:"builtin,omitempty"`
	Approved *compliance.Config `json:"approved,omitempty"`
	AddedAt  time.Time          `json:"added_at"`
	// GroupBy and Window group the rule's alerts: one alert per key and window, counting the
	// events it stands for (package alerts; empty: its defaults).
	GroupBy string `json:"group_by,omitempty"`
	Window  string `json:"window,omitempty"`
	// LastFailure is the rule's last failed evaluation at a commit (RecordFailures), nil
	// when it never failed since it was added.
	LastFailure *Failure `json:"last_failure,omitempty"`
}

type registryFile struct {
	Rules []Rule `json:"rules"`
}

// ErrNotFound is returned for a rule id that is not registered.
var ErrNotFound = errors.New("rule not found")

func registryPath(lk *lake.Lake) string { return filepath.Join(lk.Dir, "rules.json") }

func update(lk *lake.Lake, fn func(*registryFile) error) error {
	return atomicfile.UpdateJSON(registryPath(lk), filepath.Join(lk.Dir, "rules.lock"), fn)
}

// List returns the registered rules, ordered by id.
func List(lk *lake.Lake) ([]Rule, error) {
	var f registryFile
	if err := atomicfile.ReadJSON(registryPath(lk), &f); err != nil {
		return nil, err
	}
	sort.Slice(f.Rules, func(i, j int) bool { return f.Rules[i].ID < f.Rules[j].ID })
	return f.Rules, nil
}

// Get returns the rule with this id (or, failing that, the one rule with this title).
func Get(lk *lake.Lake, ref string) (Rule, error) {
	all, err := List(lk)
	if err != nil {
		return Rule{}, err
	}
	return find(all, ref)
}

// ErrNoEnabled is Select's error for "all" when no rule is enabled; ErrNoneNamed for a list
// whose every entry is empty.
var (
	ErrNoEnabled = errors.New("no enabled rules")
	ErrNoneNamed = errors.New("the list names no rule: all, or rule ids")
)

// Select returns the rules refs names for a hunt or a coverage report: ["all"] is every
// enabled rule; otherwise each ref is a rule's id or title (Get), empty refs are skipped, and a
// rule named twice (by id and by title, or a list pasted twice) is listed once, where first
// named — run twice, each of its matches would be reported twice. An unknown ref is
// ErrNotFound.
func Select(lk *lake.Lake, refs []string) ([]Rule, error) {
	all, err := List(lk)
	if err != nil {
		return nil, err
	}
	var out []Rule
	if len(refs) == 1 && strings.TrimSpace(refs[0]) == "all" {
		for _, r := range all {
			if r.Enabled {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil, ErrNoEnabled
		}
		return out, nil
	}
	for _, ref := range refs {
		if ref = strings.TrimSpace(ref); ref == "" {
			continue
		}
		r, err := find(all, ref)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o Rule) bool { return o.ID == r.ID }) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoneNamed
	}
	return out, nil
}

func find(all []Rule, ref string) (Rule, error) {
	var byTitle []Rule
	for _, r := range all {
		if r.ID == ref {
			return r, nil
		}
		if r.Title == ref {
			byTitle = append(byTitle, r)
		}
	}
	if len(byTitle) == 1 {
		return byTitle[0], nil
	}
	if len(byTitle) > 1 {
		return Rule{}, fmt.Errorf("%d rules are titled %q: name one by id (auditlake rule list)", len(byTitle), ref)
	}
	return Rule{}, fmt.Errorf("%w: %q (auditlake rule list shows the rules)", ErrNotFound, ref)
}

// nameRE is what a SQL or built-in rule's NAME may be.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// AddResult says what Add did with each rule.
type AddResult struct {
	Added, Updated []string
}

// Add registers rules. A Sigma rule already registered (same id) gets its new text and keeps
// its enabled state, and its grouping key and window where the new rule has none; a SQL or built-in rule whose NAME is taken is refused. Every rule is
// checked again here (Check) before anything is written.
func Add(ctx context.Context, lk *lake.Lake, add ...Rule) (AddResult, error) {
	var res AddResult
	for i := range add {
		r := &add[i]
		if r.Kind != KindSigma && !nameRE.MatchString(r.ID) {
			return res, fmt.Errorf("invalid rule name %q: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", r.ID)
		}
		if r.Severity == "" {
			r.Severity = "medium"
		}
		if !slices.Contains(Severities, r.Severity) {
			return res, fmt.Errorf("rule %s: severity %q is not one of %s", r.ID, r.Severity, strings.Join(Severities, ", "))
		}
		if r.AddedAt.IsZero() {
			r.AddedAt = time.Now().UTC().Truncate(time.Second)
		}
		if _, err := compile(*r); err != nil {
			return res, err
		}
		if r.Kind == KindSQL {
			if err := CheckSQL(ctx, r.ID, r.SQL); err != nil {
				return res, err
			}
		}
	}
	err := update(lk, func(f *registryFile) error {
		res = AddResult{}
		for _, r := range add {
			i := slices.IndexFunc(f.Rules, func(o Rule) bool { return o.ID == r.ID })
			switch {
			case i < 0:
				f.Rules = append(f.Rules, r)
				res.Added = append(res.Added, r.ID)
			case r.Kind == KindSigma && f.Rules[i].Kind == KindSigma:
				r.Enabled, r.AddedAt = f.Rules[i].Enabled, f.Rules[i].AddedAt
				if r.GroupBy == "" { // set by auditlake rule group: kept unless given again
					r.GroupBy = f.Rules[i].GroupBy
				}
				if r.Window == "" {
					r.Window = f.Rules[i].Window
				}
				f.Rules[i] = r
				res.Updated = append(res.Updated, r.ID)
			default:
				return fmt.Errorf("a rule named %q already exists (%s): remove it first (auditlake rule remove %s)", r.ID, f.Rules[i].Kind, r.ID)
			}
		}
		return nil
	})
	return res, err
}

// SetEnabled enables or disables a rule.
func SetEnabled(lk *lake.Lake, ref string, enabled bool) (Rule, error) {
	return change(lk, ref, func(f *registryFile, i int) { f.Rules[i].Enabled = enabled })
}

// Remove forgets a rule.
func Remove(lk *lake.Lake, ref string) (Rule, error) {
	return change(lk, ref, func(f *registryFile, i int) { f.Rules = slices.Delete(f.Rules, i, i+1) })
}

func change(lk *lake.Lake, ref string, fn func(f *registryFile, i int)) (Rule, error) {
	var out Rule
	err := update(lk, func(f *registryFile) error {
		r, err := find(f.Rules, ref)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(f.Rules, func(o Rule) bool { return o.ID == r.ID })
		fn(f, i)
		if i < len(f.Rules) && f.Rules[i].ID == r.ID {
			r = f.Rules[i]
		}
		out = r
		return nil
	})
	return out, err
}

// FromSigma makes registry rules of compiled Sigma rules (enabled), keeping each one's YAML.
func FromSigma(rs []*sigma.Rule) []Rule {
	var out []Rule
	for _, r := range rs {
		sev := r.Level
		if sev == "" {
			sev = "medium"
		}
		out = append(out, Rule{ID: r.ID, Title: r.Title, Kind: KindSigma, Severity: sev, Enabled: true,
			Description: r.Description, Sigma: r.Source, File: r.File, Compiled: predicateHash(r.Predicate)})
	}
	return out
}

func predicateHash(p string) string {
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:])
}

// Warnings says what a user of registered rule r should know of how it reads now: a Sigma
// rule that no longer compiles, or compiles to another predicate than when it was added
// (auditlake reads the YAML differently: an unquoted 1.10 was the text "1.10" before it was
// read as pySigma reads it, the number 1.1), and, with all, the rule's sigma.Rule Warnings
// (with all false, those only for a rule added before its predicate was kept: it may read
// differently now, and nothing tells). Nil for other rules.
func Warnings(r Rule, all bool) []string {
	if r.Kind != KindSigma {
		return nil
	}
	sr, err := sigma.Parse(r.File, []byte(r.Sigma))
	if err != nil {
		return []string{fmt.Sprintf("it no longer compiles (%v): it is not evaluated; fix it and add it again (auditlake rule add --sigma FILE), or remove it", err)}
	}
	var out []string
	if r.Compiled != "" && r.Compiled != predicateHash(sr.Predicate) {
		out = append(out, "it compiles to another SQL predicate than when it was added (auditlake reads its YAML differently now): check the predicate (auditlake rule show "+r.ID+"), then add the rule again to confirm it (auditlake rule add --sigma FILE)")
	}
	if all || r.Compiled == "" {
		out = append(out, sr.Warnings...)
	}
	return out
}
