package dialect_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/dialect"
)

// AWS sample queries, verbatim from aws-samples/cloud-trail-lake-query-samples (MIT-0), as
// quoted in reference aws-formats.md §1.5.
const (
	sampleRunInstances = `SELECT recipientAccountId, awsRegion, eventID, element_at(responseElements, 'instancesSet') as instances
FROM <EDS ID>
WHERE eventName='RunInstances'
AND eventTime > '2023-01-01 00:00:00' AND eventTime < '2023-01-07 00:00:00'`

	samplePrincipalByInstance = `SELECT userIdentity.principalid, eventName, eventTime, recipientAccountId, awsRegion 
FROM <EDS ID>
WHERE responseElements IS NOT NULL AND
element_at(responseElements, 'instancesSet') like '%"instanceId":"i-b188560f"%' 
AND eventTime > '2023-01-01 00:00:00' AND eventTime < '2023-01-07 00:00:00'
AND eventName='RunInstances'`

	sampleUsersByAccount = `SELECT
    userIdentity.principalid, useridentity.accountId, count(* 
    ) as eventCount 
FROM
    $EDS_ID 
WHERE
    userIdentity.principalid IS NOT NULL  
    AND eventTime > '2022-01-01 00:00:00'  
    AND eventTime < '2022-01-01 00:00:00'
GROUP
    BY userIdentity.principalid, useridentity.accountId ORDER BY EventCount DESC`

	sampleTopErrors = `SELECT
    errorCode,  errorMessage,  COUNT(*
    ) as eventCount
FROM
    $EDS_ID
WHERE
    eventTime > '2022-01-01 00:00:00' 
    AND eventTime < '2022-01-01 00:00:00' 
    AND (errorCode is not null 
        or errorMessage is not null
    )
GROUP
    BY errorCode, errorMessageORDER BY eventCount DESCLIMIT 10;`

	sampleConsoleLoginNoMFA = `SELECT
    *
FROM
    $EDS_ID 
WHERE
    eventsource = 'signin.amazonaws.com'  
    AND eventname = 'ConsoleLogin'  
    AND Element_at(additionaleventdata, 'MFAUsed' 
    ) = 'No'`

	sampleTagHistory = `SELECT
    awsRegion, eventSource, json_extract_scalar(eventjson, '$.requestParameters.resourcesSet.items[0].resourceId' 
    ) as resourceId, eventTime, eventName, json_extract_scalar(eventjson, '$.requestParameters.tagSet.items[0].key' 
    ) as key, json_extract_scalar(eventjson, '$.requestParameters.tagSet.items[0].value' 
    ) as value, useridentity.arn as identityarn 
from
    $EDS_ID 
where
    eventTime > '2022-01-01 00:00:00'  
    and eventName in ('CreateTags','DeleteTags' 
    )order by resourceId,key,eventTime desc`
)

// The two Athena queries of the seed blog post ("Audit and visualize ephemeral EC2 instances
// using AWS CloudTrail Lake as a zero-ETL data source in Amazon Athena"), verbatim, as kept in
// testdata/blog-query-{1,2}.sql (the CLI's blog test runs the same files); the placeholders are
// filled by fillSeed.
var (
	seedCostByInstance = readSeed("blog-query-1.sql")
	seedApprovalByDay  = readSeed("blog-query-2.sql")
)

func readSeed(name string) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		panic(err) // a missing fixture is a broken checkout, not a test result
	}
	return string(b)
}

// fillSeed fills the seed blog's placeholders: the EDS id through dialect.Placeholders, the CUR
// table and approved template by hand (they are the reader's own names).
func fillSeed(q string) string {
	q = dialect.Placeholders(q, dialect.Values{EDSID: testEDS})
	q = strings.ReplaceAll(q, `"enter-your-cur-database"."enter-your-cur-table"`, `"cur"."cur_2024"`)
	return strings.ReplaceAll(q, "enter-approved-launch-template-id-here", "lt-0123456789abcdef0")
}

// widen moves the samples' fixed time window over the fixture events (2022–2024).
func widen(q string) string {
	q = strings.ReplaceAll(q, "2023-01-01 00:00:00", "2022-01-01 00:00:00")
	q = strings.ReplaceAll(q, "2023-01-07 00:00:00", "2025-01-01 00:00:00")
	return strings.Replace(q, "AND eventTime < '2022-01-01 00:00:00'", "AND eventTime < '2025-01-01 00:00:00'", 1)
}

func sorted(rows [][]string) [][]string {
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(strings.Join(a, "|"), strings.Join(b, "|")) })
	return rows
}

func TestAWSSampleQueriesRunUnchanged(t *testing.T) {
	db := openLake(t)
	fill := func(q string) string { return dialect.Placeholders(q, dialect.Values{EDSID: testEDS}) }
	project := func(cols ...int) func([][]string) [][]string {
		return func(rows [][]string) [][]string {
			out := make([][]string, len(rows))
			for i, r := range rows {
				for _, c := range cols {
					out[i] = append(out[i], r[c])
				}
			}
			return out
		}
	}
	all := func(rows [][]string) [][]string { return rows }
	tests := []struct {
		name string
		sql  string
		cols func([][]string) [][]string
		want [][]string
	}{
		// The verbatim samples: their fixed 2022/2023 windows hold none of the fixture events.
		{"ec2-api-run-instances verbatim", fill(sampleRunInstances), all, nil},
		{"iam-principal-by-launched-ec2-instance-id verbatim", fill(samplePrincipalByInstance), all, nil},
		{"users-by-account verbatim (its window is empty)", fill(sampleUsersByAccount), all, nil},
		{"tag-history-by-resource verbatim (no tagging events)", fill(sampleTagHistory), all, nil},
		// console-login-with-no-mfa has no window: it finds the stratus-red-team login.
		{"console-login-with-no-mfa finds the login without MFA", fill(sampleConsoleLoginNoMFA),
			project(14, 3, 4), // eventid, eventsource, eventname
			[][]string{{"865d9377-9c6b-4fd7-8aad-725e95f6a140", "signin.amazonaws.com", "ConsoleLogin"}}},
		// The same samples with the window moved over the fixtures.
		{"ec2-api-run-instances finds the three launches", widen(fill(sampleRunInstances)), project(0, 1, 2),
			[][]string{
				{"012345678901", "ap-southeast-2", "fdd7443c-ba1f-47eb-b0bc-42395266d12c"},
				{"111122223333", "us-west-2", "41fab871-150b-43ad-b42a-39fff3f2ca4e"},
				{"123456789012", "us-west-2", "cd7919fe-34a2-4d26-b038-23a2556a79fb"},
			}},
		{"iam-principal-by-launched-ec2-instance-id finds who launched the plaso instance",
			strings.ReplaceAll(widen(fill(samplePrincipalByInstance)), "i-b188560f", "i-01234567890123456"), all,
			[][]string{{"0123456789ABCDEFGHIJK", "RunInstances", "2022-02-07 22:19:05 +0000 UTC", "012345678901", "ap-southeast-2"}}},
		{"users-by-account counts events per principal", widen(fill(sampleUsersByAccount)), all,
			[][]string{
				{"0123456789ABCDEFGHIJK", "012345678901", "5"},
				{"AIDA1ERT0661IN5R239V", "562283505220", "1"},
				{"AROAVKVYIOO7JN7TN7NSA:user.name", "123456789012", "1"},
				{"PRINCIPAL_ID:AutoScaling", "111122223333", "1"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := query(t, db, tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			if got := sorted(tt.cols(rows)); !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The upstream top-errors.sql runs "errorMessage" into "ORDER" and "DESC" into "LIMIT"; Trino
// rejects it and so must we, with the parser pointing at the spot.
func TestAWSSampleTopErrorsFailsOnItsOwnTypo(t *testing.T) {
	db := openLake(t)
	q := dialect.Placeholders(sampleTopErrors, dialect.Values{EDSID: testEDS})
	if _, err := dialect.Rewrite(q); err != nil {
		t.Fatalf("Rewrite: %v (the typo is for the SQL parser to report)", err)
	}
	_, err := query(t, db, q)
	if err == nil {
		t.Fatal("query ran; want a syntax error")
	}
	if msg := err.Error(); !strings.Contains(msg, "syntax error") || !strings.Contains(msg, `"BY"`) {
		t.Errorf("got %v, want a syntax error at BY", err)
	}
}

func TestSeedBlogQueriesRunUnchanged(t *testing.T) {
	db := openLake(t)
	t.Run("cost of instances launched outside approved templates", func(t *testing.T) {
		rows, err := query(t, db, fillSeed(seedCostByInstance))
		if err != nil {
			t.Fatal(err)
		}
		// The plaso console launch and the panther console launch are not from a template; the
		// Auto Scaling launch names no launch template, so its NOT(NULL LIKE …) is NULL and
		// the WHERE drops it, as in Trino. The Tax line is excluded from the sum.
		want := [][]string{
			{"i-00000000000000000", "arn:aws:sts::123456789012:assumed-role/ARole/user.name", "0.0094", "t3a.micro hours"},
			{"i-01234567890123456", "arn:aws:iam::012345678901:user/fakeusername", "0.75", "t2.micro hours"},
		}
		if got := sorted(rows); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
	t.Run("approval status per instance and day", func(t *testing.T) {
		rows, err := query(t, db, fillSeed(seedApprovalByDay))
		if err != nil {
			t.Fatal(err)
		}
		// Without a WHERE, every event whose responseElements names an instance joins: the
		// plaso Stop/TerminateInstances too (not RunInstances, so "Approved Templates").
		day := func(h string) string { return h + ":00:00 +0000 UTC" }
		want := sorted([][]string{
			{"Non Approved", "i-01234567890123456", "arn:aws:iam::012345678901:user/fakeusername", "0.75", "t2.micro hours", day("2022-02-07 22"), day("2022-02-07 23")},
			{"Approved Templates", "i-01234567890123456", "arn:aws:iam::012345678901:user/fakeusername", "0.75", "t2.micro hours", day("2022-02-07 22"), day("2022-02-07 23")},
			{"Approved Templates", "i-01234567890123456", "arn:aws:iam::012345678901:user/fakeusername", "0.75", "t2.micro hours", day("2022-02-07 22"), day("2022-02-07 23")},
			{"Approved Templates", "i-07d06021b0da55115", "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling", "0.9", "p2.xlarge hours", day("2024-12-16 18"), day("2024-12-16 19")},
			{"Non Approved", "i-00000000000000000", "arn:aws:sts::123456789012:assumed-role/ARole/user.name", "0.0094", "t3a.micro hours", day("2024-04-02 15"), day("2024-04-02 16")},
		})
		if got := sorted(rows); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
}
