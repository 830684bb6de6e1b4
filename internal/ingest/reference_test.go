package ingest

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/generate/generatetest"
	"github.com/auditlake/auditlake/internal/lake"
)

// appendNorm (the reference conversion) writes the record's Lake columns (all but the raw event) as a JSON object keyed by
// the lowercase column names; the engine's json_transform reads it (ctparquet.NormStructure).
func appendNorm(b []byte, r *cloudtrail.Record) []byte {
	w := &jw{b: b}
	w.open()
	w.str("eventversion", r.EventVersion)
	if u := r.UserIdentity; u != nil {
		w.key("useridentity")
		w.open()
		w.str("type", u.Type)
		w.str("principalid", u.PrincipalID)
		w.str("arn", u.ARN)
		w.str("accountid", u.AccountID)
		w.str("accesskeyid", u.AccessKeyID)
		w.str("username", u.UserName)
		if s := u.SessionContext; s != nil {
			w.key("sessioncontext")
			w.open()
			if a := s.Attributes; a != nil {
				w.key("attributes")
				w.open()
				w.time("creationdate", a.CreationDate)
				w.str("mfaauthenticated", a.MFAAuthenticated)
				w.close()
			}
			if i := s.SessionIssuer; i != nil {
				w.key("sessionissuer")
				w.open()
				w.str("type", i.Type)
				w.str("principalid", i.PrincipalID)
				w.str("arn", i.ARN)
				w.str("accountid", i.AccountID)
				w.str("username", i.UserName)
				w.close()
			}
			if f := s.WebIDFederationData; f != nil {
				w.key("webidfederationdata")
				w.open()
				w.str("federatedprovider", f.FederatedProvider)
				w.kvmap("attributes", f.Attributes)
				w.close()
			}
			w.str("sourceidentity", s.SourceIdentity)
			w.str("ec2roledelivery", s.EC2RoleDelivery)
			w.str("ec2issuedinvpc", s.EC2IssuedInVPC)
			w.close()
		}
		w.str("invokedby", u.InvokedBy)
		w.str("identityprovider", u.IdentityProvider)
		w.str("credentialid", u.CredentialID)
		if o := u.OnBehalfOf; o != nil {
			w.key("onbehalfof")
			w.open()
			w.str("userid", o.UserID)
			w.str("identitystorearn", o.IdentityStoreARN)
			w.close()
		}
		if o := u.InScopeOf; o != nil {
			w.key("inscopeof")
			w.open()
			w.str("sourcearn", o.SourceARN)
			w.str("sourceaccount", o.SourceAccount)
			w.str("issuertype", o.IssuerType)
			w.str("credentialsissuedto", o.CredentialsIssuedTo)
			w.close()
		}
		w.close()
	}
	w.str("eventsource", r.EventSource)
	w.str("eventname", r.EventName)
	w.str("awsregion", r.AWSRegion)
	w.str("sourceipaddress", r.SourceIPAddress)
	w.str("useragent", r.UserAgent)
	w.str("errorcode", r.ErrorCode)
	w.str("errormessage", r.ErrorMessage)
	w.kvmap("requestparameters", r.RequestParameters)
	w.kvmap("responseelements", r.ResponseElements)
	w.kvmap("additionaleventdata", r.AdditionalEventData)
	w.str("requestid", r.RequestID)
	w.boolean("readonly", r.ReadOnly)
	if r.Resources != nil {
		w.key("resources")
		w.b = append(w.b, '[')
		for i, res := range r.Resources {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.open()
			w.str("accountid", res.AccountID)
			w.str("type", res.Type)
			w.str("arn", res.ARN)
			w.str("arnprefix", res.ARNPrefix)
			w.close()
		}
		w.b = append(w.b, ']')
	}
	w.str("eventtype", r.EventType)
	w.str("apiversion", r.APIVersion)
	w.boolean("managementevent", r.ManagementEvent)
	w.str("sharedeventid", r.SharedEventID)
	w.str("annotation", r.Annotation)
	w.str("vpcendpointid", r.VPCEndpointID)
	w.str("vpcendpointaccountid", r.VPCEndpointAccountID)
	w.kvmap("serviceeventdetails", r.ServiceEventDetails)
	w.kvmap("addendum", r.Addendum)
	w.kvmap("edgedevicedetails", r.EdgeDeviceDetails)
	w.kvmap("insightdetails", r.InsightDetails)
	w.str("eventcategory", r.EventCategory)
	if t := r.TLSDetails; t != nil {
		w.key("tlsdetails")
		w.open()
		w.str("tlsversion", t.TLSVersion)
		w.str("ciphersuite", t.CipherSuite)
		w.str("clientprovidedhostheader", t.ClientProvidedHostHeader)
		w.str("keyexchange", t.KeyExchange)
		w.close()
	}
	w.str("sessioncredentialfromconsole", r.SessionCredentialFromConsole)
	w.close()
	return w.b
}

// edgeCases are records whose Lake columns are easy to get wrong when written as Parquet by
// hand: maps that are absent, null, empty or hold nulls and nested values; resources that are
// empty or lack fields; structs present but empty; nested optional structs and a nested map;
// text that is not ASCII, not UTF-8, or has control characters.
const edgeCases = `{"Records":[
{"eventVersion":"1.08","eventTime":"2026-03-01T00:00:01Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventID":"e-1","recipientAccountId":"111111111111",
 "requestParameters":{},"responseElements":null,"additionalEventData":{"a":null,"b":{"c":[1,2]},"d":"x","e":3.5,"f":true},
 "resources":[],"readOnly":false,"managementEvent":true},
{"eventTime":"2026-03-01T00:00:02Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventID":"e-2",
 "userIdentity":{},"resources":[{"ARN":"arn:aws:ec2:us-east-1:1:instance/i-1"},{"accountId":"1","type":"AWS::EC2::Instance"},{}],
 "tlsDetails":{"tlsVersion":"TLSv1.3"}},
{"eventTime":"2026-03-02T23:59:59.999Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","eventID":"e-3","recipientAccountId":"222222222222",
 "userIdentity":{"type":"WebIdentityUser","sessionContext":{"webIdFederationData":{"federatedProvider":"arn:aws:iam::2:oidc-provider/x","attributes":{"sub":"s","aud":null,"amr":["a","b"]}}}},
 "requestParameters":{"roleArn":"arn:aws:iam::2:role/r\u00e9le \u2603","durationSeconds":3600,"tags":[]}},
{"eventTime":"2026-03-02T12:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventID":"e-4",
 "userIdentity":{"type":"AssumedRole","sessionContext":{"attributes":{"creationDate":"20260302T115959Z","mfaAuthenticated":"true"},"sessionIssuer":{}},
  "onBehalfOf":{"userId":"u"},"inScopeOf":{"issuerType":"AWS::Lambda::Function"}},
 "serviceEventDetails":{"outcome":"Success"},"addendum":{"reason":"DELIVERY_DELAY"},"edgeDeviceDetails":{},"insightDetails":null,
 "errorMessage":"tab\there, newline\nthere, quote \" and \\ backslash, NUL \u0000 end","userAgent":"bad BADBYTES bytes"},
{"eventTime":"2026-03-03T00:00:00Z","eventID":"e-5","recipientAccountId":"333333333333"},
{"eventTime":"2026-03-03T00:00:00Z","eventID":"e-5","recipientAccountId":"444444444444","eventName":"SameIdOtherAccount"}
]}`

// referenceRecords decodes every CloudTrail record in the repository's testdata (real samples),
// a small generated organization and edgeCases, one record per dedupe key.
func referenceRecords(t *testing.T) []*cloudtrail.Record {
	t.Helper()
	var recs []*cloudtrail.Record
	decode := func(name string, r io.Reader) {
		cloudtrail.Decode(r, name, cloudtrail.DecodeOptions{}, func(rec *cloudtrail.Record) error {
			recs = append(recs, rec)
			return nil
		})
	}
	gen := generatetest.Trail(t, 3000, 2, 11)
	for _, root := range []string{"../../testdata", gen} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz") || strings.HasSuffix(p, ".jsonl")) {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			decode(p, f)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	n := len(recs)
	decode("edge-cases.json", strings.NewReader(strings.Replace(edgeCases, "BADBYTES", "\xff\xfe", 1)))
	if len(recs)-n != 6 {
		t.Fatalf("edge cases: %d records decoded, want 6", len(recs)-n)
	}
	seen := map[string]bool{}
	out := recs[:0]
	for _, r := range recs {
		k := r.EventID + "|"
		if r.RecipientAccountID != nil {
			k += "=" + *r.RecipientAccountID
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	if len(out) < 1000 {
		t.Fatalf("only %d reference records", len(out))
	}
	return out
}

// TestParquetFromGoMatchesTheEngine holds the Parquet that ingest writes from Go to the
// engine's own conversion of the same records (normalised JSON typed by json_transform into
// the Lake schema): same column types, and every value of every row the same.
func TestParquetFromGoMatchesTheEngine(t *testing.T) {
	ctx := context.Background()
	recs := referenceRecords(t)
	lk, st, w, db := newWriter(t)
	files, written, err := lake.WriteRecords(ctx, db, w, lake.NewBatch(slices.Clone(recs)))
	if err != nil {
		t.Fatal(err)
	}
	if written != int64(len(recs)) {
		t.Fatalf("wrote %d of %d records", written, len(recs))
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, lk.AbsPath(st.ID, f.Path))
	}
	got := "read_parquet(" + engine.ListLiteral(paths) + ", hive_partitioning = false)"

	// The reference: staged rows typed by the engine.
	if err := db.Exec(ctx, "CREATE TABLE ref_staging (eventid VARCHAR, recipientaccountid VARCHAR, eventtime TIMESTAMP, norm VARCHAR, eventjson VARCHAR, eventjsonchecksum VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	app, err := db.NewAppender(ctx, "ref_staging")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := app.AppendRow(r.EventID, str(r.RecipientAccountID), r.EventTime, string(appendNorm(nil, r)), r.EventJSON, r.EventJSONChecksum); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range ctparquet.CloudTrailColumns {
		switch c.Name {
		case "eventid", "recipientaccountid", "eventtime", "eventjson", "eventjsonchecksum":
			cols = append(cols, c.Name)
		default:
			cols = append(cols, "n."+c.Name)
		}
	}
	want := "(SELECT " + strings.Join(cols, ", ") + " FROM (SELECT *, json_transform(norm, " + engine.Literal(ctparquet.NormStructure) + ") AS n FROM ref_staging))"

	if g, w := describe(t, db, got), describe(t, db, want); g != w {
		t.Fatalf("column types differ:\n got %s\nwant %s", g, w)
	}
	if g, w := rowsAsJSON(t, db, got), rowsAsJSON(t, db, want); !slices.Equal(g, w) {
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("row %d differs:\n got %s\nwant %s", i, g[i], w[i])
			}
		}
		t.Fatalf("%d rows, want %d", len(g), len(w))
	}
	// Each file is one date, its rows in sort order (what lets row-group statistics skip).
	for _, p := range paths {
		var unsorted int
		err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT eventsource, eventname, eventtime,
			lag(eventsource) OVER w AS ps, lag(eventname) OVER w AS pn, lag(eventtime) OVER w AS pt,
			strftime(eventtime, '%Y-%m-%d') AS d, first_value(strftime(eventtime, '%Y-%m-%d')) OVER w AS d0
			FROM read_parquet(`+engine.Literal(p)+`, file_row_number = true) WINDOW w AS (ORDER BY file_row_number))
			WHERE d <> d0 OR (ps IS NOT NULL AND (ps > eventsource OR (ps = eventsource AND (pn > eventname OR (pn = eventname AND pt > eventtime)))))`).Scan(&unsorted)
		if err != nil {
			t.Fatal(err)
		}
		if unsorted > 0 {
			t.Errorf("%s: %d rows out of order or of another date", p, unsorted)
		}
	}
}

// newWriter opens a writer on a new store of a new lake, and an engine; the test closes both.
func newWriter(t *testing.T) (*lake.Lake, lake.Store, *lake.Writer, *engine.DB) {
	t.Helper()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("ref", lake.CreateOptions{RetentionDays: 3653})
	if err != nil {
		t.Fatal(err)
	}
	w, err := lk.BeginWrite(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	db, err := engine.Open(context.Background(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return lk, st, w, db
}

func describe(t *testing.T, db *engine.DB, rel string) string {
	t.Helper()
	return strings.Join(firstColumn(t, db, "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM "+rel+")"), ", ")
}

func rowsAsJSON(t *testing.T, db *engine.DB, rel string) []string {
	t.Helper()
	return firstColumn(t, db, "SELECT to_json(x)::VARCHAR FROM "+rel+" AS x ORDER BY eventid, recipientaccountid")
}

// firstColumn is the first column of every row of query, as text.
func firstColumn(t *testing.T, db *engine.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
