package sigma_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/lifecycle"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/sigma"
)

// TestSigmaGoEqualsSQLRandom generates Sigma rules from a grammar — fields seen in real
// CloudTrail records, values taken from those records and then mutated (case, wildcards,
// escapes, truncation, types), every modifier, every condition form — and runs each one the
// package compiles over real records both ways: wherever the Go matcher answers Yes or No,
// the SQL predicate answers the same. The fixed differential tests hold the cases someone
// thought of; this one looks for the ones nobody did. The seed is fixed, so a failure here is
// reproducible as printed; TestStressSigmaGoEqualsSQLRandom runs many more rules.
func TestSigmaGoEqualsSQLRandom(t *testing.T) {
	c := loadRandCorpus(t)
	runRandomRules(t, c, 1, 400)
}

// TestStressSigmaGoEqualsSQLRandom is TestSigmaGoEqualsSQLRandom with many more rules (make
// stress): AUDITLAKE_SIGMA_SEED sets the seed (default: from the clock, printed), and
// AUDITLAKE_SIGMA_RULES the number of rules (default 10,000, about four minutes on two cores).
func TestStressSigmaGoEqualsSQLRandom(t *testing.T) {
	if os.Getenv("AUDITLAKE_STRESS") == "" {
		t.Skip("set AUDITLAKE_STRESS=1 (make stress)")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("AUDITLAKE_SIGMA_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("AUDITLAKE_SIGMA_SEED=%q: %v", s, err)
		}
		seed = v
	}
	n := 10000
	if s := os.Getenv("AUDITLAKE_SIGMA_RULES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("AUDITLAKE_SIGMA_RULES=%q: %v", s, err)
		}
		n = v
	}
	t.Logf("AUDITLAKE_SIGMA_SEED=%d AUDITLAKE_SIGMA_RULES=%d", seed, n)
	c := loadRandCorpus(t)
	runRandomRules(t, c, seed, n)
}

// randCorpus is the differential test's events: a store of the real CloudTrail samples in
// testdata and of the corpus and hostile events, and the same events decoded as ingest
// decodes them, with the values each field holds in them (the generator's material).
type randCorpus struct {
	s    *query.Session
	st   lake.Store
	recs []*cloudtrail.Record // one per event id the store holds once
	gen  genMaterial
	hard genMaterial // of the events written to be hard alone
}

// loadRandCorpus ingests the samples and events into a new store. The records ingest writes
// cannot be kept past its Written hook, so their JSON texts are kept and decoded again: the
// record's EventJSON is the record as the decoder read it.
func loadRandCorpus(t *testing.T) *randCorpus {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	lk, err := lake.Open(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("events", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	td := func(parts ...string) string {
		return filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...)
	}
	records := append(append(append([]map[string]any{}, corpus...), hostile...), pantherLogs(t, td("panther-analysis-cloudtrail-tests"))...)
	data, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "records.json")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw.json")
	if err := os.WriteFile(raw, []byte(`{"Records":[`+strings.Join(rawHostile, ",\n")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	sources := []string{f, raw, td("stratus-red-team-detonation-logs"), td("plaso-cloudtrail-lookupevents"), td("cloud-custodian-event-and-config-fixtures", "cwe")}
	for _, name := range []string{"SerializerTestFile.json", "SerializerAllFieldsNull.json", "SerializerTestFileLocation.json",
		"SerializerVariousUserIdentityTestFile.json", "SerializerTestFileNewFieldsInUserIdentity.json", "SerializerTestFileNewFieldAtRandomPlaces.json"} {
		sources = append(sources, td("aws-cloudtrail-processing-library-serializer-tests", name))
	}
	var texts []string
	seen := map[string]int{}
	written := func(_ []lake.DataFile, recs [][]*cloudtrail.Record, _ [][]lifecycle.Fact) {
		for _, part := range recs {
			for _, r := range part {
				seen[r.EventID]++
				texts = append(texts, strings.Clone(r.EventJSON))
			}
		}
	}
	if _, err := ingest.CloudTrail(ctx, lk, st, ingest.Options{Sources: sources, Written: written}); err != nil {
		t.Fatal(err)
	}
	c := &randCorpus{st: st}
	for _, r := range decodeRecords(t, nil, texts...) {
		if seen[r.EventID] == 1 {
			c.recs = append(c.recs, r)
		}
	}
	if len(c.recs) < 800 {
		t.Fatalf("only %d events of unique id in the corpus", len(c.recs))
	}
	// The hard events are the point: each must be in the store, not refused by the decoder.
	for _, e := range append(append(slices.Clone(corpus), hostile...), pantherLogs(t, td("panther-analysis-cloudtrail-tests"))[:1]...) {
		if !slices.ContainsFunc(c.recs, func(r *cloudtrail.Record) bool { return r.EventID == e["eventID"] }) {
			t.Fatalf("event %v is not in the corpus", e["eventID"])
		}
	}
	for _, raw := range rawHostile {
		id := regexp.MustCompile(`"eventID":"([^"]+)"`).FindStringSubmatch(raw)[1]
		if !slices.ContainsFunc(c.recs, func(r *cloudtrail.Record) bool { return r.EventID == id }) {
			t.Fatalf("raw event %s is not in the corpus", id)
		}
	}
	c.gen = harvest(c.recs)
	var hard []*cloudtrail.Record
	for _, r := range c.recs {
		if hostileID.MatchString(r.EventID) {
			hard = append(hard, r)
		}
	}
	c.hard = harvest(hard)
	c.s, err = query.Open(ctx, lk, query.Options{Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.s.Close() })
	return c
}

// rawHostile are records as JSON text that a map cannot hold: keys held twice, numbers as
// written, escapes, values of other types than CloudTrail's, empty and deeply nested values,
// JSON held in strings, text the engine's casts and address parser read their own way.
var rawHostile = []string{
	`{"eventVersion":"1.08","eventID":"r1-dupkeys","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
	  "requestParameters":{"a":{"b":"first","b":"second"},"c":[{"d":1,"d":2}]},"layers":{"x":"1","x":"2"},
	  "userIdentity":{"type":"IAMUser","foo":"one","foo":"two","sessionContext":{"x":1,"x":2}}}`,
	`{"eventVersion":"1.08","eventID":"r2-numbers","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject",
	  "requestParameters":{"i":0,"neg":-0,"f":1.0,"e":1e3,"E":1E+2,"small":0.1e-2,"big":123456789012345678901234567890,
	    "maxu":18446744073709551615,"over":18446744073709551616,"minneg":-9223372036854775808,"arr":[1.0,2,3e0,-5],
	    "s":{"n":"1e309","m":"-1e-400","inf":"Infinity","nan":"NaN","hex":"0x10","sp":" 5 ","plus":"+5","dot":"5.","lead":".5","z":"007"}},
	  "count":1.50,"n2":10,"n3":-3,"n4":2.5e1,"tiny":"0.000000000000001","wide":"123456789012345.123456789012345"}`,
	`{"eventVersion":"1.08","eventID":"r3-escapes","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
	  "userAgent":"caf\u00e9 \/slash \"q\" tab\there","errorMessage":"a\u0000b",
	  "requestParameters":{"s":"\u0041\u0042","nul":"a\u0000b","ctl":"\u0001x","del":"\u007f","sur":"\ud83d\ude00","uni":"ÄÖÜ","keyé":"v",
	    "o":{"ctl":"x\u0002","q":"\"","bs":"\\"}},"weird key":1}`,
	`{"eventVersion":"1.08","eventID":"r4-types","eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances",
	  "readOnly":"true","managementEvent":1,"userIdentity":{"type":7,"arn":["x"],"sessionContext":{"attributes":{"mfaAuthenticated":true,"creationDate":"2026-03-01T09:00:00Z"}}},
	  "resources":[[{"ARN":"nested"}],{"ARN":"x","accountId":123},null,"s"],"additionalEventData":[1,2],"responseElements":"a string",
	  "serviceEventDetails":{"x":[[1],[2,[3]]],"y":[null,"n"]},"tlsDetails":{"tlsVersion":1.2,"cipherSuite":null}}`,
	`{"eventVersion":"1.08","eventID":"r5-empty","eventTime":"2026-03-01T10:00:00Z","eventSource":"","eventName":"",
	  "requestParameters":{},"responseElements":{"e":"","arr":[],"obj":{},"nul":null,"sp":" ","t":true,"f":false},"userAgent":"","sourceIPAddress":"","errorCode":""}`,
	`{"eventVersion":"1.08","eventID":"r6-json-in-strings","eventTime":"2026-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"PutRolePolicy",
	  "requestParameters":{"policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:*\",\"iam:*\"]}]}",
	    "arr":" [\"a\", [\"b\"]]","bad":"[1,2] x","nul":"null","t":"true","obj":" {\"k\":\"v\"} "}}`,
	`{"eventVersion":"1.08","eventID":"r7-case","eventTime":"2026-03-01T10:00:00Z","eventSource":"S3.amazonaws.COM","eventName":"getobject",
	  "requestParameters":{"Key":"upper","key":"lower","KEY":"caps"},"userIdentity":{"ARN":"upperkey","Type":"Root"}}`,
	`{"eventVersion":"1.08","eventID":"r8-deep","eventTime":"2026-03-01T10:00:00Z","eventSource":"ecs.amazonaws.com","eventName":"RunTask",
	  "requestParameters":{"a":[[[["x"]]]],"b":[{"c":[{"d":[{"e":"deep"}]}]}],"m":[{"k":"1"},[{"k":"2"}],{"k":["3",["4"]]}]}}`,
	`{"eventVersion":"1.08","eventID":"r9-ips","eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances",
	  "sourceIPAddress":"::FFFF:1.2.3.4","requestParameters":{"ips":["1.2.3.4.5","::","0.0.0.0","255.255.255.255","1.2.3.04","2001:DB8::1","::ffff:1.2.3.4","1.2.3.4/32"," 1.2.3.4"]}}`,
	`{"eventVersion":"1.08","eventID":"r10-unicode","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
	  "userAgent":"\u212a ß ǅ İ e\u0301 ﬃ ΟΔΟΣ ſ","userIdentity":{"type":"IAMUser","userName":"ǅemal","arn":"arn:aws:iam::1:user/Σίσυφος"},
	  "requestParameters":{"name":"ﬃx","k":"\u212aelvin"}}`,
	`{"eventVersion":"1.08","eventID":"r11-newlines","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
	  "userAgent":"line1\nline2\r\nline3","requestParameters":{"cmd":"a\nb","tab":"\t"},"errorMessage":"\n"}`,
	`{"eventVersion":"1.08","eventID":"r12-time","eventTime":"2026-03-01T10:00:00.123456Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
	  "userIdentity":{"type":"AssumedRole","sessionContext":{"attributes":{"creationDate":"2026-02-28T23:59:59.999Z","mfaAuthenticated":"false"}}}}`,
	`{"eventVersion":"1.08","eventID":"r13-invalid-text","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
	  "userAgent":"lone \ud800 surrogate","errorMessage":"bad \udc00\ud800 pair","extra":"x\ud83dy","bytes":"a` + "\xff\xfe" + `b",
	  "requestParameters":{"s":"\ud800","o":{"k":"\udfff z"},"arr":["\ud800",1]}}`,
	`{"eventVersion":"1.08","eventID":"r14-keys","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
	  "a[0]":"bracket","a*":"star","$x":"dollar","ключ":"cyrillic","a'b":"quote","a b":{"c d":"spaced"},"UserAgent2":"x",
	  "requestParameters":{"a[0]":"bracket","$":{"$":"dollars"},"a'b":"q","*":"star","ключ":"v"}}`,
	`{"eventVersion":"1.08","eventID":"r15-identity","eventTime":"2026-03-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity",
	  "userIdentity":{"type":"WebIdentityUser","principalId":"p:ID","arn":"arn:aws:sts::1:x","accountId":"000000000001","accessKeyId":"ASIAXX",
	    "userName":"u","invokedBy":"AWS Internal","identityProvider":"accounts.google.com","credentialId":"c-1",
	    "sessionContext":{"sourceIdentity":"Alice","ec2RoleDelivery":"2.0","ec2IssuedInVPC":"vpc-1",
	      "webIdFederationData":{"federatedProvider":"accounts.google.com","attributes":{"accounts.google.com:aud":"123.apps","n":5,"arr":["a","B"],"o":{"k":"v"}}},
	      "sessionIssuer":{"type":"Role","principalId":"AROA","arn":"arn:aws:iam::1:role/R","accountId":"1","userName":"R"}},
	    "onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::1:identitystore/d-1"},
	    "inScopeOf":{"sourceArn":"arn:aws:lambda:us-east-1:1:function:f","sourceAccount":"1","issuerType":"AWS::Lambda::Function","credentialsIssuedTo":"arn:x"}},
	  "insightDetails":{"state":"Start","insightContext":{"statistics":{"baseline":{"average":0.5}}}},"addendum":{"reason":"DELIVERY_DELAY","updatedFields":"x"},
	  "edgeDeviceDetails":{"type":"outposts","deviceID":"d"},"serviceEventDetails":{"backupVaultName":"v","n":[1,"2"]},
	  "tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"s3.us-east-1.amazonaws.com","keyExchange":"x25519"},
	  "sessionCredentialFromConsole":"true","vpcEndpointId":"vpce-1","vpcEndpointAccountId":"1","sharedEventID":"s","annotation":"note","eventCategory":"Management",
	  "apiVersion":"2011-06-15","requestID":"R","recipientAccountId":"1","managementEvent":true,"readOnly":false,"errorCode":"Client.Foo","errorMessage":"msg"}`,
}

// pantherLogs are the CloudTrail records of panther-analysis' rule tests, each with an
// event id of its own (the upstream cases reuse ids such as "1", which ingest deduplicates).
// Numbers keep their text.
func pantherLogs(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, name := range []string{"panther_cloudtrail_rule_tests.jsonl", "panther_test_scenarios_cloudtrail.jsonl"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var c struct {
				Log map[string]any `json:"log"`
			}
			d := json.NewDecoder(strings.NewReader(sc.Text()))
			d.UseNumber()
			if err := d.Decode(&c); err != nil {
				t.Fatal(err)
			}
			if c.Log == nil {
				continue
			}
			c.Log["eventID"] = fmt.Sprintf("panther-%d", len(out))
			out = append(out, c.Log)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// hostileID: the events written to be hard (the corpus', hostile and rawHostile events).
var hostileID = regexp.MustCompile(`^[ehr][0-9]+-`)

// genMaterial is what the generator draws from: the field paths seen in the records (and
// some no record has), the values each holds, IP addresses and numbers seen anywhere.
type genMaterial struct {
	paths []string
	vals  map[string][]string
	all   []string // every value, for a value of another field
	ips   []string
	nums  []string
	// numsOf and ipsOf are the numbers and addresses each path holds; numPaths and ipPaths
	// the paths that hold some.
	numsOf, ipsOf     map[string][]string
	numPaths, ipPaths []string
	// byDepth are the paths of one name (byDepth[0]) and of two (byDepth[1]).
	byDepth [2][]string
}

// harvest walks every record's JSON: each object key path is a field (arrays are walked
// through, as the matcher reads a field in an array's elements), each scalar a value of its
// path and of every object path above it (whose JSON text contains it).
func harvest(recs []*cloudtrail.Record) genMaterial {
	g := genMaterial{vals: map[string][]string{}, numsOf: map[string][]string{}, ipsOf: map[string][]string{}}
	seen := map[string]map[string]bool{}
	add := func(path, v string) {
		if seen[path] == nil {
			seen[path] = map[string]bool{}
			g.paths = append(g.paths, path)
		}
		if v != "" && !seen[path][v] && len(seen[path]) < 200 && len(v) <= 300 {
			seen[path][v] = true
			g.vals[path] = append(g.vals[path], v)
		}
	}
	var walk func(segs []string, v any)
	walk = func(segs []string, v any) {
		path := strings.Join(segs, ".")
		var text string
		switch x := v.(type) {
		case map[string]any:
			if len(segs) > 0 {
				add(path, "")
			}
			if len(segs) >= 7 {
				return
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if k == "" || strings.ContainsAny(k, ".|\"\\") || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 }) {
					continue
				}
				walk(append(segs[:len(segs):len(segs)], k), x[k])
			}
			return
		case []any:
			for _, e := range x {
				walk(segs, e)
			}
			return
		case string:
			text = x
			if _, err := netip.ParseAddr(strings.TrimSpace(x)); err == nil {
				g.ips = append(g.ips, x)
				if len(g.ipsOf[path]) < 50 {
					g.ipsOf[path] = append(g.ipsOf[path], x)
				}
			}
		case json.Number:
			text = x.String()
		case bool:
			text = strconv.FormatBool(x)
		case nil:
			add(path, "")
			return
		}
		if _, err := strconv.ParseFloat(strings.TrimSpace(text), 64); err == nil {
			g.nums = append(g.nums, text)
			if len(g.numsOf[path]) < 50 {
				g.numsOf[path] = append(g.numsOf[path], text)
			}
		}
		add(path, text)
		g.all = append(g.all, text)
		for i := len(segs) - 1; i >= 1; i-- { // the objects above it hold it in their text
			add(strings.Join(segs[:i], "."), text)
		}
	}
	for _, r := range recs {
		d := json.NewDecoder(strings.NewReader(r.EventJSON))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			walk(nil, v)
		}
	}
	// Paths no record has, below columns, structs, maps, scalars and lists.
	for _, p := range []string{"status", "userIdentity.nope", "userIdentity.sessionContext.nope.x", "requestParameters.nope",
		"requestParameters.bucketName.x", "responseElements.x.y.z", "eventName.x", "resources.nope", "tlsDetails.x",
		"additionalEventData.a.b", "serviceEventDetails.x", "insightDetails.x", "addendum.reason", "edgeDeviceDetails.x"} {
		add(p, "")
	}
	slices.Sort(g.paths)
	for _, p := range g.paths {
		if len(g.numsOf[p]) > 0 {
			g.numPaths = append(g.numPaths, p)
		}
		if len(g.ipsOf[p]) > 0 {
			g.ipPaths = append(g.ipPaths, p)
		}
		if n := strings.Count(p, "."); n < 2 {
			g.byDepth[n] = append(g.byDepth[n], p)
		}
	}
	return g
}

// ruleGen generates one random rule's detection from the material.
type ruleGen struct {
	r    *rand.Rand
	m    *genMaterial
	all  *genMaterial
	hard *genMaterial
}

func (g *ruleGen) pick(n int) int        { return g.r.IntN(n) }
func (g *ruleGen) chance(p float64) bool { return g.r.Float64() < p }

// path is a field path seen in the records (rarely one of another case: a column's name is
// case-insensitive, a JSON key is not). Most have one or two names, as rules' fields do: a
// field n names deep is read from JSON in 2^n ways, each a parse of the record's JSON text
// by the engine, and the deep ones are most of the paths.
func (g *ruleGen) path() string {
	ps := g.m.paths
	switch k := g.pick(10); {
	case k < 4:
		ps = g.m.byDepth[0]
	case k < 8:
		ps = g.m.byDepth[1]
	}
	p := ps[g.pick(len(ps))]
	if g.chance(0.05) {
		p = mutateCase(g.r, p)
	}
	return p
}

// value is a value of field p, or of any field, or text of its own; "" only by chance.
func (g *ruleGen) baseValue(p string) string {
	vs := g.m.vals[p]
	switch {
	case len(vs) > 0 && g.chance(0.8):
		return vs[g.pick(len(vs))]
	case g.chance(0.6) && len(g.m.all) > 0:
		return g.m.all[g.pick(len(g.m.all))]
	}
	odd := []string{"", " ", "*", "?", "**", "\\", "\\\\", "\\*", "%", "_", "'", "\"", "null", "true", "0", "-0", "1.0",
		"İ", "ß", "\u212a", "é", "ǅ", "a\nb", "\t", "ſ", "Σ", "ς", "ﬀ", "x\u0000y"}
	return odd[g.pick(len(odd))]
}

// mutate changes a value: case, wildcards, escapes, cuts.
func (g *ruleGen) mutate(v string) string {
	rs := []rune(v)
	for n := g.pick(3); n > 0; n-- {
		switch g.pick(12) {
		case 0:
			return mutateCase(g.r, v)
		case 1, 2: // a cut: prefix, suffix or substring
			if len(rs) > 1 {
				i := g.pick(len(rs))
				j := i + 1 + g.pick(len(rs)-i)
				rs = rs[i:j]
			}
		case 3: // * replaces a run
			if len(rs) > 0 {
				i := g.pick(len(rs))
				j := i + g.pick(len(rs)-i+1)
				rs = slices.Concat(rs[:i], []rune{'*'}, rs[j:])
			}
		case 4: // ? replaces a character
			if len(rs) > 0 {
				rs[g.pick(len(rs))] = '?'
			}
		case 5: // a wildcard inserted
			i := g.pick(len(rs) + 1)
			rs = slices.Insert(rs, i, []rune("*?")[g.pick(2)])
		case 6: // an escape inserted
			i := g.pick(len(rs) + 1)
			esc := []string{`\*`, `\?`, `\\`, `\`, `\a`, `\\*`, `%`, `_`}[g.pick(8)]
			rs = slices.Insert(rs, i, []rune(esc)...)
		case 7: // a character changed to a look-alike or a Unicode one
			if len(rs) > 0 {
				i := g.pick(len(rs))
				rs[i] = []rune("KkSsIiİıſ\u212aéÉΣσς ")[g.pick(16)]
			}
		case 8:
			rs = []rune(mutateCase(g.r, string(rs)))
		case 9: // a leading or trailing *
			if g.chance(0.5) {
				rs = append([]rune{'*'}, rs...)
			} else {
				rs = append(rs, '*')
			}
		case 10: // a trailing backslash
			rs = append(rs, '\\')
		case 11:
			rs = slices.Concat(rs, rs)
		}
	}
	return string(rs)
}

func mutateCase(r *rand.Rand, v string) string {
	switch r.IntN(4) {
	case 0:
		return strings.ToUpper(v)
	case 1:
		return strings.ToLower(v)
	}
	rs := []rune(v)
	for i := range rs {
		if r.IntN(2) == 0 {
			rs[i] = []rune(strings.ToUpper(string(rs[i])))[0]
		} else {
			rs[i] = []rune(strings.ToLower(string(rs[i])))[0]
		}
	}
	return string(rs)
}

// yamlScalar writes v as a YAML string, or (typed) as the YAML number, boolean or null it is
// when that is what the generator asked for.
func yamlScalar(v string, typed bool) string {
	if typed {
		return v
	}
	if strings.ContainsFunc(v, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r > 0xffff || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff
	}) {
		return strconv.Quote(v)
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// condValues are a field condition's values as YAML (each typed or a string), and its key's
// modifiers.
func (g *ruleGen) field() (key string, vals []string) {
	// A third of the fields are of the events written to be hard: few among the samples'.
	g.m = g.all
	if g.chance(0.3) {
		g.m = g.hard
	}
	k := g.pick(20)
	p := g.path()
	// Numbers are compared, and networks matched, mostly in fields that hold them.
	switch {
	case k >= 10 && k < 12 && len(g.m.ipPaths) > 0 && g.chance(0.8):
		p = g.m.ipPaths[g.pick(len(g.m.ipPaths))]
	case k >= 15 && k < 17 && len(g.m.numPaths) > 0 && g.chance(0.8):
		p = g.m.numPaths[g.pick(len(g.m.numPaths))]
	}
	var mods []string
	str := func() string { return yamlScalar(g.mutate(g.baseValue(p)), false) }
	var one func() string
	switch {
	case k < 5: // plain
		one = str
	case k < 8:
		mods = append(mods, []string{"contains", "startswith", "endswith"}[g.pick(3)])
		one = str
	case k < 10: // regular expression
		mods = append(mods, "re")
		for _, f := range []string{"i", "m", "s"} {
			if g.chance(0.2) {
				mods = append(mods, f)
			}
		}
		one = func() string { return yamlScalar(g.regex(p), false) }
	case k < 12:
		mods = append(mods, "cidr")
		one = func() string { return yamlScalar(g.network(p), false) }
	case k < 13:
		mods = append(mods, "exists")
		one = func() string {
			if g.chance(0.05) {
				return []string{"yes", "'x'", "1"}[g.pick(3)]
			}
			return []string{"true", "false", "'true'", "True", "FALSE", "'false'"}[g.pick(6)]
		}
	case k < 15:
		mods = append(mods, "fieldref")
		if g.chance(0.5) {
			mods = append(mods, []string{"contains", "startswith", "endswith"}[g.pick(3)])
		}
		one = func() string {
			if g.chance(0.3) {
				return yamlScalar(p, false)
			}
			return yamlScalar(g.path(), false)
		}
	case k < 17:
		mods = append(mods, []string{"lt", "lte", "gt", "gte", "neq"}[g.pick(5)])
		one = func() string { return g.number(p) }
	case k < 18: // typed values: numbers, booleans, null
		one = func() string {
			if g.chance(0.3) {
				return "null"
			}
			if g.chance(0.3) {
				return []string{"true", "false", "~", "''"}[g.pick(4)]
			}
			return g.number(p)
		}
	default: // a modifier combination, valid or not
		all := []string{"contains", "startswith", "endswith", "all", "cased", "re", "i", "exists", "fieldref", "cidr", "gte", "neq", "windash", "expand", "base64"}
		for n := 1 + g.pick(3); n > 0; n-- {
			mods = append(mods, all[g.pick(len(all))])
		}
		one = str
	}
	stringOp := len(mods) == 0 || slices.Contains([]string{"contains", "startswith", "endswith", "fieldref"}, mods[0])
	if stringOp && g.chance(0.2) && !slices.Contains(mods, "cased") {
		mods = append(mods, "cased")
	}
	n := 1
	if g.chance(0.35) {
		n = 2 + g.pick(4)
		if g.chance(0.3) {
			mods = append(mods, "all")
		}
	}
	for range n {
		if (len(mods) == 0 && g.chance(0.05)) || g.chance(0.005) {
			vals = append(vals, "null")
		} else {
			vals = append(vals, one())
		}
	}
	key = p
	if len(mods) > 0 {
		key += "|" + strings.Join(mods, "|")
	}
	return key, vals
}

// regex builds a regular expression from a value of field p.
func (g *ruleGen) regex(p string) string {
	v := g.baseValue(p)
	rs := []rune(v)
	if len(rs) > 1 && g.chance(0.6) { // a part of it
		i := g.pick(len(rs))
		rs = rs[i : i+1+g.pick(len(rs)-i)]
	}
	if g.chance(0.3) {
		rs = []rune(mutateCase(g.r, string(rs)))
	}
	q := regexp.QuoteMeta(string(rs))
	switch g.pick(10) {
	case 0:
		q = "^" + q
	case 1:
		q += "$"
	case 2:
		q = "^" + q + "$"
	case 3:
		q = q + ".*" + regexp.QuoteMeta(g.baseValue(p))
	case 4: // letters and digits as classes
		var b strings.Builder
		for _, r := range string(rs) {
			switch {
			case r >= '0' && r <= '9':
				b.WriteString(`\d`)
			case r >= 'a' && r <= 'z' && g.chance(0.5):
				b.WriteString("[a-z]")
			case r >= 'A' && r <= 'Z' && g.chance(0.5):
				b.WriteString(`\w`)
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		q = b.String()
	case 5:
		q = "(?i)" + q
	case 6:
		q = "(" + q + "|" + regexp.QuoteMeta(g.baseValue(p)) + ")"
	case 7:
		q = strings.ReplaceAll(q, "a", ".")
	case 8:
		q = []string{`.`, `^$`, `\s`, `\pL+`, `[^a-z]`, `\bx`, `(?s).+`, `(?m)^a`, `é`, `(`, `a{2,}`, `.*`, `[[:upper:]]`, `\x{212a}`}[g.pick(14)]
	}
	return q
}

// network is a CIDR network around an address of the records, or an odd one.
func (g *ruleGen) network(p string) string {
	ips := g.m.ipsOf[p]
	if len(ips) == 0 || g.chance(0.2) {
		ips = g.m.ips
	}
	if len(ips) == 0 || g.chance(0.1) {
		return []string{"10.0.0.0/8", "0.0.0.0/0", "::/0", "::ffff:0:0/96", "2001:db8::/32", "10.0.0.0/33", "x", "10.1.2.3", "fe80::/10"}[g.pick(9)]
	}
	a, _ := netip.ParseAddr(strings.TrimSpace(ips[g.pick(len(ips))]))
	if g.chance(0.1) && a.Is4() {
		a = netip.AddrFrom16(a.As16())
	}
	bits := g.pick(a.BitLen() + 1)
	if g.chance(0.5) {
		return netip.PrefixFrom(a, bits).Masked().String()
	}
	if g.chance(0.8) {
		return a.String() // the address alone
	}
	return a.String() + "/" + strconv.Itoa(bits) // host bits set: refused unless bits is the address's length
}

// number is a YAML number near one of the records', or an odd one; sometimes a string.
func (g *ruleGen) number(p string) string {
	nums := g.m.numsOf[p]
	if len(nums) == 0 || g.chance(0.3) {
		nums = g.m.nums
	}
	if len(nums) == 0 || g.chance(0.1) {
		return []string{"0", "-1", "1.5", "1e3", "1e400", ".5", "0x10", "1_000", ".inf", "-.inf", ".nan", "'3'", "12345678901234567890", "-0", "3.0"}[g.pick(15)]
	}
	f, _ := strconv.ParseFloat(nums[g.pick(len(nums))], 64)
	switch g.pick(4) {
	case 0, 3:
		return nums[g.pick(len(nums))]
	case 1:
		f++
	case 2:
		f -= 0.5
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// detection is a random detection: searches and a condition over them.
func (g *ruleGen) detection() string {
	names := []string{"sel", "sel_a", "sel2", "filter", "filter_b", "_x", "a"}
	g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	names = names[:1+g.pick(4)]
	var b strings.Builder
	for _, n := range names {
		if g.chance(0.08) { // keywords: values with no field
			_, vals := g.field()
			if len(vals) == 1 && g.chance(0.5) {
				fmt.Fprintf(&b, "  %s: %s\n", n, vals[0])
				continue
			}
			fmt.Fprintf(&b, "  %s:\n", n)
			indent := "    "
			if g.chance(0.3) { // modifiers of keywords: a key with no field name
				fmt.Fprintf(&b, "    '|%s':\n", []string{"all", "cased", "cased|all"}[g.pick(3)])
				indent = "      "
			}
			for _, v := range vals {
				fmt.Fprintf(&b, "%s- %s\n", indent, v)
			}
			continue
		}
		fmt.Fprintf(&b, "  %s:\n", n)
		maps := 0
		if g.chance(0.2) {
			maps = 1 + g.pick(3)
		}
		writeMap := func(indent string, firstPrefix string) {
			for i, n := 0, 1+g.pick(3); i < n; i++ {
				key, vals := g.field()
				prefix := indent
				if i == 0 {
					prefix = firstPrefix
				}
				if len(vals) == 1 && g.chance(0.8) {
					fmt.Fprintf(&b, "%s%s: %s\n", prefix, yamlScalar(key, false), vals[0])
					continue
				}
				fmt.Fprintf(&b, "%s%s:\n", prefix, yamlScalar(key, false))
				for _, v := range vals {
					fmt.Fprintf(&b, "%s  - %s\n", indent, v)
				}
			}
		}
		if maps == 0 {
			writeMap("    ", "    ")
		} else {
			for range maps {
				writeMap("      ", "    - ")
			}
		}
	}
	fmt.Fprintf(&b, "  condition: %s\n", g.condition(names, 3))
	return b.String()
}

func (g *ruleGen) condition(names []string, depth int) string {
	if depth == 0 || g.chance(0.3) {
		switch g.pick(8) {
		case 0:
			return "1 of them"
		case 1:
			return "all of them"
		case 2, 3:
			n := names[g.pick(len(names))]
			pat := n[:g.pick(len(n)+1)] + "*"
			return []string{"1 of ", "all of "}[g.pick(2)] + pat
		}
		return names[g.pick(len(names))]
	}
	word := func(w string) string { // the parser takes and, or, not in any case
		if g.chance(0.1) {
			return strings.ToUpper(w)
		}
		return w
	}
	switch g.pick(5) {
	case 0:
		return word("not") + " " + g.condition(names, depth-1)
	case 1:
		return "(" + g.condition(names, depth-1) + ")"
	case 2:
		return g.condition(names, depth-1) + " " + word("or") + " " + g.condition(names, depth-1)
	}
	return g.condition(names, depth-1) + " " + word("and") + " " + g.condition(names, depth-1)
}

// randRule is one generated rule and what was made of it.
type randRule struct {
	index int // the rule's number in its seed's sequence
	yaml  string
	rule  *sigma.Rule
}

// runRandomRules generates n rules from seed and checks each that compiles with a Go matcher
// against its SQL over the corpus; a batch of rules' predicates runs as one query.
func runRandomRules(t *testing.T, c *randCorpus, seed uint64, n int) {
	g := &ruleGen{r: rand.New(rand.NewPCG(seed, 0x5157a)), m: &c.gen, all: &c.gen, hard: &c.hard}
	var batch []randRule
	compiled, withGo, failures := 0, 0, 0
	var tally [3]int // verdicts: No, Yes, Unknown
	for i := range n {
		det := g.detection()
		y := rule(det)
		r, err := parseNoPanic(y)
		switch {
		case err != nil:
			re, ok := err.(*sigma.RefusedError)
			if !ok || strings.TrimSpace(re.Reason) == "" {
				t.Errorf("seed %d rule %d: refused without a reason: %v\n%s", seed, i, err, y)
			}
			continue
		case r == nil:
			t.Errorf("seed %d rule %d: neither a rule nor an error\n%s", seed, i, y)
			continue
		}
		compiled++
		if !r.HasGo() {
			continue
		}
		withGo++
		batch = append(batch, randRule{index: i, yaml: y, rule: r})
		if len(batch) == 40 {
			failures += checkBatch(t, c, seed, batch, &tally)
			batch = batch[:0]
		}
		if failures > 20 {
			t.Fatalf("seed %d: stopped after %d failures", seed, failures)
		}
	}
	if len(batch) > 0 {
		failures += checkBatch(t, c, seed, batch, &tally)
	}
	t.Logf("seed %d: %d rules generated, %d compiled, %d with a Go matcher, over %d events: %d yes, %d no, %d unknown",
		seed, n, compiled, withGo, len(c.recs), tally[sigma.Yes], tally[sigma.No], tally[sigma.Unknown])
	if withGo < n/4 {
		t.Errorf("only %d of %d rules have a Go matcher: the generator makes too few to prove much", withGo, n)
	}
}

// parseNoPanic is sigma.Parse, a panic reported as an error of its own kind.
func parseNoPanic(y string) (r *sigma.Rule, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return sigma.Parse("random.yml", []byte(y))
}

// checkBatch runs the batch's predicates (and prefilters) as columns of one query and
// compares each with its rule's Go verdicts; it returns the number of rules that failed.
func checkBatch(t *testing.T, c *randCorpus, seed uint64, batch []randRule, tally *[3]int) int {
	t.Helper()
	sqlOf := func(rs []randRule) (map[string][]bool, error) {
		var cols []string
		for _, r := range rs {
			pre := "true"
			if r.rule.Prefilter != "" {
				pre = r.rule.Prefilter
			}
			cols = append(cols, "coalesce("+r.rule.Predicate+", false)", "coalesce("+pre+", false)")
		}
		res, err := c.s.RunInternal(context.Background(), "SELECT eventid, "+strings.Join(cols, ", ")+" FROM "+query.StoreTable(c.st.ID))
		if err != nil {
			return nil, err
		}
		out := map[string][]bool{}
		for _, row := range res.Rows {
			id := row[0].(string)
			if _, dup := out[id]; dup {
				out[id] = nil // an id held twice is not compared
				continue
			}
			bs := make([]bool, len(row)-1)
			for i, v := range row[1:] {
				bs[i] = v.(bool)
			}
			out[id] = bs
		}
		return out, nil
	}
	got, err := sqlOf(batch)
	if err != nil {
		// Find the rules whose SQL fails.
		failed := 0
		for _, r := range batch {
			if _, err := sqlOf([]randRule{r}); err != nil {
				t.Errorf("seed %d rule %d: its SQL fails: %v\n%s", seed, r.index, err, r.yaml)
				failed++
			}
		}
		if failed == 0 {
			t.Errorf("seed %d: a batch's query fails, no rule's alone: %v", seed, err)
			return 1
		}
		return failed
	}
	failed := 0
	var ev sigma.Event
	for i, r := range batch {
		var bad []string
		for _, rec := range c.recs {
			row := got[rec.EventID]
			if row == nil {
				continue
			}
			sqlMatch, pre := row[2*i], row[2*i+1]
			ev.Reset(rec)
			v := r.rule.Match(&ev)
			tally[v]++
			switch {
			case v == sigma.Yes && !sqlMatch, v == sigma.No && sqlMatch:
				bad = append(bad, fmt.Sprintf("event %s: Go %s, SQL %v", rec.EventID, verdictName(v), sqlMatch))
			case sqlMatch && !pre:
				bad = append(bad, fmt.Sprintf("event %s: the SQL matches, its prefilter does not", rec.EventID))
			case sqlMatch && r.rule.Admits(rec.EventSource, rec.EventName) == sigma.No:
				bad = append(bad, fmt.Sprintf("event %s: the SQL matches, the Go prefilter (Admits) says no", rec.EventID))
			}
		}
		if len(bad) > 0 {
			failed++
			t.Errorf("seed %d rule %d: Go and SQL differ on %d events, e.g.\n  %s\nrule:\n%s\npredicate: %s", seed, r.index, len(bad),
				strings.Join(bad[:min(len(bad), 5)], "\n  "), r.yaml, r.rule.Predicate)
		}
	}
	return failed
}

func verdictName(v sigma.Verdict) string {
	return map[sigma.Verdict]string{sigma.Yes: "yes", sigma.No: "no", sigma.Unknown: "unknown"}[v]
}

// TestSigmaRandomReplay checks the rule in the file named by AUDITLAKE_SIGMA_REPLAY (a rule
// the random tests printed, cut down by hand) as they check each of theirs.
func TestSigmaRandomReplay(t *testing.T) {
	f := os.Getenv("AUDITLAKE_SIGMA_REPLAY")
	if f == "" {
		t.Skip("set AUDITLAKE_SIGMA_REPLAY to a rule file")
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sigma.Parse(f, data)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasGo() {
		t.Fatalf("no Go matcher: %s", r.GoRefused)
	}
	var tally [3]int
	checkBatch(t, loadRandCorpus(t), 0, []randRule{{yaml: string(data), rule: r}}, &tally)
	t.Logf("%d yes, %d no, %d unknown", tally[sigma.Yes], tally[sigma.No], tally[sigma.Unknown])
}
