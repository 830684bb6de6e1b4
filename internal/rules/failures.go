package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/lake"
)

// RuleErrors is the rules of an evaluation that failed, by rule id. EvaluateGrouped and
// EvaluateGroupedWith return it, with every other rule's matches, when some rules could not be
// compiled or run over the target (a SQL rule whose CAST fails on these events, a stored rule
// past today's bounds): one broken rule never keeps the others from alerting.
type RuleErrors map[string]error

func (e RuleErrors) Error() string {
	ids := make([]string, 0, len(e))
	for id := range e {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("rule %s: %s", id, Reason(id, e[id]))
	}
	return strings.Join(parts, "; ")
}

// add records rule id's failure err and reports whether the evaluation must stop instead
// (the context is done: nothing is the rule's fault).
func (e RuleErrors) add(ctx context.Context, id string, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	e[id] = err
	return false
}

// result is out with e as its error when e holds a rule.
func (e RuleErrors) result(out [][]MatchGroup) ([][]MatchGroup, error) {
	if len(e) == 0 {
		return out, nil
	}
	return out, e
}

// Failure is a rule's last failed evaluation at a commit: the files of store Store whose
// events (From..To) the rule did not evaluate, and why. It is kept with the rule (rule show,
// rule list, the dashboard's rules) until the rule is added again or removed; `auditlake hunt
// --rules ID --from From` evaluates those events once the cause is gone.
type Failure struct {
	Store string    `json:"store"`
	Error string    `json:"error"`
	At    time.Time `json:"at"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Files int       `json:"files"`
	// Failures counts the evaluations the rule failed since it was added.
	Failures int `json:"failures"`
}

// RecordFailures keeps each failed rule's failure (by rule id) with the rule: files are the
// store's files the evaluation did not cover for it. Rules no longer registered are skipped.
func RecordFailures(lk *lake.Lake, st lake.Store, failed RuleErrors, files []lake.DataFile, at time.Time) error {
	if len(failed) == 0 {
		return nil
	}
	var from, to time.Time
	for _, f := range files {
		if from.IsZero() || (!f.MinTime.IsZero() && f.MinTime.Before(from)) {
			from = f.MinTime
		}
		if f.MaxTime.After(to) {
			to = f.MaxTime
		}
	}
	return update(lk, func(f *registryFile) error {
		for i := range f.Rules {
			err, ok := failed[f.Rules[i].ID]
			if !ok {
				continue
			}
			n := 1
			if prev := f.Rules[i].LastFailure; prev != nil {
				n = prev.Failures + 1
			}
			f.Rules[i].LastFailure = &Failure{Store: st.Name, Error: Reason(f.Rules[i].ID, err), At: at.UTC(), From: from.UTC(), To: to.UTC(), Files: len(files), Failures: n}
		}
		return nil
	})
}

// AsRuleErrors is err's RuleErrors, if it is one.
func AsRuleErrors(err error) (RuleErrors, bool) {
	var re RuleErrors
	if errors.As(err, &re) {
		return re, true
	}
	return nil, false
}

// Reason is rule id's failure err in one line: the engine's first line (its LINE/caret
// context dropped), without a leading "rule ID: ", at most 500 bytes.
func Reason(id string, err error) string {
	msg, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	msg = strings.TrimPrefix(strings.TrimSpace(msg), "rule "+id+": ")
	return truncate(msg, 500)
}
