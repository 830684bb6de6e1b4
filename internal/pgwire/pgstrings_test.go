package pgwire

import "testing"

// TestPgStringsRewritesEscapeAndDollarStrings: E'…' and $tag$…$tag$ strings become standard
// literals with the same text; standard strings, quoted identifiers, comments, $n parameters and
// names with $ stay as written; malformed ones are errors.
func TestPgStringsRewritesEscapeAndDollarStrings(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got, err := pgStrings(in)
		if err != nil || got != want {
			t.Errorf("pgStrings(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	f(`SELECT E'it\'s; x'`, `SELECT 'it''s; x'`)
	f(`SELECT e'a''b\\c\n\t\x41\101\u00e9\U0001F600'`, "SELECT 'a''b\\c\n\tAAé😀'")
	f(`SELECT $$a;b'c$$, $tag$ $$ $tag$`, `SELECT 'a;b''c', ' $$ '`)
	f(`SELECT $1, $2::int, a$b$, x FROM t WHERE y = $1`, `SELECT $1, $2::int, a$b$, x FROM t WHERE y = $1`)
	f(`SELECT 'E''x', "E'y", 'it''s $$' -- E'z $$
, 1 /* E'w /* $$ */ $$ */`, `SELECT 'E''x', "E'y", 'it''s $$' -- E'z $$
, 1 /* E'w /* $$ */ $$ */`)
	f(`SELECT namE FROM t WHERE e = 'x'`, `SELECT namE FROM t WHERE e = 'x'`)
	for _, bad := range []string{`SELECT $$open`, `SELECT E'open`, `SELECT E'\000'`, `SELECT E'\xff'`, `SELECT E'\uD800'`} {
		if got, err := pgStrings(bad); err == nil {
			t.Errorf("pgStrings(%q) = %q, want an error", bad, got)
		}
	}
}
