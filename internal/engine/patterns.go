package engine

import (
	"fmt"
	"strings"
)

// The engine matches LIKE, ILIKE and GLOB patterns by backtracking: for each wildcard that has
// more pattern after it, it tries every position of the value, so that k such wildcards cost the
// value's length to the k-th power — and the query's time limit does not interrupt it (one
// user's `x ILIKE '%a%a%a%a%a%a%a%a%a%b'` over a 200-byte value holds a core of the server for
// good). Only a constant LIKE pattern without _ and without ESCAPE is matched in linear time (the
// engine's segment matcher). So user SQL may give these operators only a constant pattern, with
// at most one backtracking wildcard unless it is that linear form; regexp_matches and
// regexp_like (RE2) are linear whatever the pattern.

// quadraticFunctions are the engine's scalar functions whose time grows with the product of
// their inputs' lengths, which the query's time limit does not interrupt either
// (levenshtein of two 300,000-character strings runs for hours). User SQL may not call them;
// Trino's levenshtein_distance is a macro that refuses inputs past Trino's own bound.
var quadraticFunctions = map[string]bool{
	"levenshtein": true, "editdist3": true, "damerau_levenshtein": true,
	"jaro_similarity": true, "jaro_winkler_similarity": true,
}

// patternFunctions are the engine's names of the pattern operators: kind "like" for LIKE and
// NOT LIKE (linear when the pattern is constant with no _), "ilike", "escape" for the forms
// with an ESCAPE character (its third argument), "glob" for GLOB.
var patternFunctions = map[string]string{
	"~~": "like", "!~~": "like", "like": "like", "not_like": "like",
	"~~*": "ilike", "!~~*": "ilike", "ilike": "ilike", "not_ilike": "ilike",
	"like_escape": "escape", "not_like_escape": "escape", "ilike_escape": "escape", "not_ilike_escape": "escape",
	"~~~": "glob", "glob": "glob",
}

// checkPattern refuses a call (fn, its parse-tree node) of a quadratic function, or of a pattern
// operator whose pattern could make the engine backtrack without end.
func checkPattern(fn map[string]any) error {
	name, _ := fn["function_name"].(string)
	if quadraticFunctions[strings.ToLower(name)] {
		return &QueryError{Msg: fmt.Sprintf("function %s() is not allowed: its time grows with the product of its inputs' lengths and the query's time limit cannot stop it; use levenshtein_distance (inputs whose lengths multiply to at most 1,000,000)", name)}
	}
	kind, ok := patternFunctions[strings.ToLower(name)]
	if !ok {
		return nil
	}
	args, _ := fn["children"].([]any)
	if len(args) < 2 {
		return nil // the engine refuses the call itself
	}
	pattern, isNull, ok := constantString(args[1])
	if !ok {
		return &QueryError{Msg: "the pattern of LIKE, ILIKE or GLOB must be a constant string (a pattern computed per row may take the engine hours to match); use regexp_like or regexp_matches for others"}
	}
	if isNull {
		return nil
	}
	escape := rune(0)
	if kind == "escape" && len(args) > 2 {
		e, isNull, ok := constantString(args[2])
		if !ok {
			return &QueryError{Msg: "the ESCAPE character of LIKE or ILIKE must be a constant string"}
		}
		if !isNull && e != "" {
			escape = []rune(e)[0]
		}
	}
	if kind == "like" && !strings.Contains(pattern, "_") {
		return nil // the engine's linear matcher
	}
	wild := '%'
	if kind == "glob" {
		wild = '*'
	}
	if backtrackingWildcards(pattern, wild, escape) > 1 {
		return &QueryError{Msg: fmt.Sprintf("pattern %q has more than one %c followed by more pattern: the engine would match it by backtracking, which can take hours; use regexp_like(value, regex) or regexp_matches (linear time) instead", truncateMsg(pattern, 80), wild)}
	}
	return nil
}

// constantString reads a parse-tree node that is a constant: its text, or null.
func constantString(n any) (s string, isNull, ok bool) {
	m, _ := n.(map[string]any)
	if m == nil || m["class"] != "CONSTANT" {
		return "", false, false
	}
	v, _ := m["value"].(map[string]any)
	if v == nil {
		return "", false, false
	}
	if null, _ := v["is_null"].(bool); null {
		return "", true, true
	}
	s, ok = v["value"].(string)
	return s, false, ok
}

// backtrackingWildcards counts the runs of wildcard w in pattern that have more pattern after
// them; escape (0: none) makes the character after it literal.
func backtrackingWildcards(pattern string, w, escape rune) int {
	rs := []rune(pattern)
	n := 0
	for i := 0; i < len(rs); i++ {
		switch {
		case escape != 0 && rs[i] == escape:
			i++
		case rs[i] == w:
			j := i
			for j < len(rs) && rs[j] == w {
				j++
			}
			if j < len(rs) {
				n++
			}
			i = j - 1
		}
	}
	return n
}

func truncateMsg(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
