package dialect_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/dialect"
)

// ipInputs are address texts at the edges of the grammar, then random ones: IPv4, IPv6 with
// and without "::", in upper and lower case, with leading zeros, IPv4-mapped and -compatible
// forms, and mutations that make them invalid.
func ipInputs() []string {
	in := []string{
		"0.0.0.0", "255.255.255.255", "10.1.2.3", "1.2.3.04", "01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5",
		"1..2.3", "1.2.3.4.", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "", "::", "::1", "1::", "1::2", "::ffff:1.2.3.4",
		"::ffff:7f00:1", "::1.2.3.4", "64:ff9b::10.0.0.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", ":1::", "1:::2", "12345::",
		"2001:0DB8:0000:0000:0000:FF00:0042:8329", "2001:db8:0:0:1:0:0:1", "0:0:1:0:0:0:0:0", "1:0:0:2:0:0:3:4",
		"fe80::1%eth0", "fe80::1%", "1.2.3.4%eth0", "::1.2.3.256", "::1.2.3", "g::1", "AWS Internal",
		"ec2.amazonaws.com", "1:2:3:4:5:6:7:8%1",
	}
	rng := rand.New(rand.NewPCG(15, 11))
	for range 300 {
		var groups [8]uint16
		for i := range groups {
			switch rng.IntN(3) {
			case 0:
				groups[i] = 0
			case 1:
				groups[i] = uint16(rng.IntN(16))
			default:
				groups[i] = uint16(rng.Uint32())
			}
		}
		var a netip.Addr
		if rng.IntN(3) == 0 {
			a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		} else {
			var b [16]byte
			for i, g := range groups {
				b[2*i], b[2*i+1] = byte(g>>8), byte(g)
			}
			a = netip.AddrFrom16(b)
		}
		s := a.String()
		switch rng.IntN(6) {
		case 0:
			s = strings.ToUpper(s)
		case 1:
			s = a.StringExpanded()
		case 2: // a random mutation, most often invalid
			i := rng.IntN(len(s) + 1)
			s = s[:i] + string("0:.g%"[rng.IntN(5)]) + s[i:]
		}
		in = append(in, s)
	}
	return in
}

// TestIPAddressCastMatchesGoNetip holds the IPADDRESS macros to Go's net/netip, whose parser and
// printer follow the same rules as Trino's (Guava's): validity, then the canonical text (an
// IPv4-mapped address prints as IPv4, as Trino does).
func TestIPAddressCastMatchesGoNetip(t *testing.T) {
	db := openLake(t)
	in := ipInputs()
	got := tryIPAddress(t, db, in)
	for i, s := range in {
		want := "NULL"
		if a, err := netip.ParseAddr(s); err == nil && !(a.Is4() && a.Zone() != "") {
			want = a.WithZone("").Unmap().String()
		}
		if got[i] != want {
			t.Errorf("TRY_CAST(%q AS IPADDRESS) = %s, want %s", s, got[i], want)
		}
	}
}

func tryIPAddress(t *testing.T, db *sql.DB, in []string) []string {
	t.Helper()
	var q strings.Builder
	q.WriteString("SELECT TRY_CAST(s AS IPADDRESS) FROM (VALUES ")
	for i, s := range in {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "ROW(%d, '%s')", i, strings.ReplaceAll(s, "'", "''"))
	}
	q.WriteString(") AS t(i, s) ORDER BY i")
	rows, err := query(t, db, q.String())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[0]
	}
	return out
}

// TestIPContainsMatchesGoNetip holds contains(cidr, address) to net/netip's Prefix.Contains on
// random networks and addresses, with Trino's rule that an IPv4 network contains only IPv4
// addresses (IPv4-mapped ones included) and an IPv6 network only IPv6 ones.
func TestIPContainsMatchesGoNetip(t *testing.T) {
	db := openLake(t)
	rng := rand.New(rand.NewPCG(3, 14))
	type tc struct {
		cidr, addr string
		want       bool
	}
	randAddr := func(v4 bool) netip.Addr {
		if v4 {
			return netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		}
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return netip.AddrFrom16(b)
	}
	var cases []tc
	for range 400 {
		v4 := rng.IntN(2) == 0
		base := randAddr(v4)
		bits := rng.IntN(base.BitLen() + 1)
		p := netip.PrefixFrom(base, bits).Masked()
		cidr := p.String()
		if !v4 && rng.IntN(2) == 0 {
			cidr = base.String() + "/" + fmt.Sprint(bits) // host bits are allowed in an IPv6 network
		}
		addr := randAddr(rng.IntN(2) == 0)
		if rng.IntN(2) == 0 && addr.BitLen() == base.BitLen() {
			// an address inside the network, but for a few low bits
			b := p.Addr().AsSlice()
			a := addr.AsSlice()
			for i := range b {
				if (i+1)*8 <= bits {
					a[i] = b[i]
				}
			}
			addr, _ = netip.AddrFromSlice(a)
		}
		text := addr.String()
		if addr.Is4() && rng.IntN(4) == 0 {
			text = "::ffff:" + text
		}
		cases = append(cases, tc{cidr, text, p.Contains(addr)})
	}
	var q strings.Builder
	q.WriteString("SELECT contains(c, CAST(a AS IPADDRESS)) FROM (VALUES ")
	for i, c := range cases {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "ROW(%d, '%s', '%s')", i, c.cidr, c.addr)
	}
	q.WriteString(") AS t(i, c, a) ORDER BY i")
	rows, err := query(t, db, q.String())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got := rows[i][0]; got != fmt.Sprint(c.want) {
			t.Errorf("contains(%q, %q) = %s, want %v", c.cidr, c.addr, got, c.want)
		}
	}
}

// TestRewriteTrinoNamesAndRows checks the rewrite of the constructs that name result columns
// or build rows.
func TestRewriteTrinoNamesAndRows(t *testing.T) {
	f := func(name, in, want string) {
		t.Helper()
		got, err := dialect.Rewrite(in)
		if err != nil {
			t.Errorf("%s: Rewrite(%q): %v", name, in, err)
			return
		}
		if got != want {
			t.Errorf("%s: Rewrite(%q)\n got  %q\n want %q", name, in, got, want)
		}
	}
	f("VALUES ROW rows", "VALUES ROW(1, 'a'), ROW(2, 'b')",
		`SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS _values("_col0", "_col1")`)
	f("VALUES of bare values then ORDER BY", "VALUES 1, 2 + 3 ORDER BY 1",
		`SELECT * FROM (VALUES (1), (2 + 3)) AS _values("_col0") ORDER BY 1`)
	f("VALUES in a CTE with column names", "WITH c(x) AS (VALUES '10.0.0.0/8') SELECT x FROM c",
		`WITH c(x) AS (SELECT * FROM (VALUES ('10.0.0.0/8')) AS _values("_col0")) SELECT x FROM c`)
	f("keyword aliases without AS; INTERVAL units stay", "SELECT eventtime year, INTERVAL '1' DAY, a b, now() - INTERVAL 7 DAY FROM t",
		`SELECT eventtime AS year, INTERVAL '1' DAY AS "_col1", a AS b, now() - INTERVAL 7 DAY AS "_col3" FROM t`)
	f("DISTINCT, IS NOT NULL and IS DISTINCT FROM are not aliases",
		"SELECT DISTINCT year, a IS NOT NULL, a IS DISTINCT FROM b FROM t",
		`SELECT DISTINCT year, a IS NOT NULL AS "_col1", a IS DISTINCT FROM b AS "_col2" FROM t`)
	f("capitalised column references keep their spelling at the top level only",
		`SELECT eventName, t."EventID", x.y.Arn, lower FROM (SELECT eventName FROM t) t`,
		`SELECT eventName AS "eventName", t."EventID" AS "EventID", x.y.Arn AS "Arn", lower FROM (SELECT eventName FROM t) t`)
	f("after the last star, unnamed items are named from the end; between stars, not at all",
		"SELECT 1, *, 2, t.*, 3, x FROM t WHERE x IN (SELECT *, 4 FROM u)",
		`SELECT 1 AS "_col0", *, 2, t.*, 3 AS "_col?2", x FROM t WHERE x IN (SELECT *, 4 FROM u)`)
	f("user is a name", "SELECT user, u.user FROM u WHERE user = 'x'",
		`SELECT "user", u."user" FROM u WHERE "user" = 'x'`)
	f("IPADDRESS casts and literals", "SELECT CAST(ip AS ipaddress) a, TRY_CAST(ip AS IPADDRESS) b, IPADDRESS '::1' c FROM t",
		"SELECT trino_ipaddress(ip) AS a, trino_try_ipaddress(ip) AS b, trino_ipaddress('::1') AS c FROM t")
	f("contains of a CIDR is the IP contains; of an array, the array's",
		"SELECT 1 AS x FROM t WHERE contains('10.0.0.0/8', CAST(ip AS IPADDRESS)) AND contains(net, IPADDRESS '1.2.3.4') AND contains(ARRAY[1, 2], n) AND contains(arr, x)",
		"SELECT 1 AS x FROM t WHERE trino_ip_contains('10.0.0.0/8', trino_ipaddress(ip)) AND trino_ip_contains(net, trino_ipaddress('1.2.3.4')) AND trino_contains(ARRAY[1, 2], n) AND trino_contains(arr, x)")
}

func TestColumnNamesNumbersItemsAfterAStar(t *testing.T) {
	got := dialect.ColumnNames([]string{"a", "b", "_col?3", "y", "_col?1"})
	if want := []string{"a", "b", "_col2", "y", "_col4"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// a name that only looks like one (out of range, not a number) is kept
	got = dialect.ColumnNames([]string{"_col?3", "_col?x", "_col?0"})
	if want := []string{"_col0", "_col?x", "_col?0"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
