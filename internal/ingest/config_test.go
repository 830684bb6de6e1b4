package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/auditlake/auditlake/internal/configitems/configtest"
	"github.com/auditlake/auditlake/internal/ingest"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/objstore"
	"github.com/auditlake/auditlake/internal/query"
)

func configStore(t *testing.T) (*lake.Lake, lake.Store) {
	t.Helper()
	lk, err := lake.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := lk.Create("config-items", lake.CreateOptions{Type: lake.TypeConfig})
	if err != nil {
		t.Fatal(err)
	}
	return lk, st
}

func scenario(t *testing.T) []map[string]any {
	t.Helper()
	items, err := configtest.Items("../..")
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, lk *lake.Lake, sql string) int64 {
	t.Helper()
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunInternal(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res.Rows[0][0].(int64)
}

// The same items delivered in a snapshot, in history files and by the API are stored once; a
// second run skips unchanged files, and the same bytes under another name add nothing.
func TestConfigIngestDeduplicatesOnResourceIDAndCaptureTime(t *testing.T) {
	lk, st := configStore(t)
	items := scenario(t)
	dir := t.TempDir()
	var file, api []map[string]any
	for _, it := range items {
		file = append(file, configtest.FileStyle(it))
		api = append(api, configtest.APIStyle(it))
	}
	snap := configtest.Gzip(configtest.Snapshot(file...))
	writeFile(t, filepath.Join(dir, "snapshot.json.gz"), snap)
	writeFile(t, filepath.Join(dir, "history.json"), configtest.History(file[3:8]...))
	writeFile(t, filepath.Join(dir, "api.json"), configtest.APIHistory(api[:3]...))
	ctx := context.Background()
	sum, err := ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(items))
	if sum.EventsAdded != n || sum.Duplicates != 8 || sum.FilesIngested != 3 || sum.Errors != 0 {
		t.Fatalf("first run: %+v; want %d added, 8 duplicates, 3 files", sum, n)
	}
	sum, err = ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsAdded != 0 || sum.FilesSkipped != 3 {
		t.Fatalf("second run: %+v; want every file skipped as unchanged", sum)
	}
	other := filepath.Join(t.TempDir(), "copy.json.gz")
	writeFile(t, other, snap)
	sum, err = ingest.Config(ctx, lk, st, ingest.Options{Sources: []string{other}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsAdded != 0 || sum.Duplicates != n {
		t.Fatalf("copy: %+v; want 0 added, %d duplicates", sum, n)
	}
	table := query.StoreTable(st.ID)
	if got := count(t, lk, "SELECT count(*) FROM "+table); got != n {
		t.Errorf("store holds %d rows, want %d", got, n)
	}
	if got := count(t, lk, "SELECT count(DISTINCT (eventdata.resourceid, eventtime)) FROM "+table); got != n {
		t.Errorf("store holds %d distinct (resourceid, capture time), want %d", got, n)
	}
}

// Stored rows carry the Lake Config-item schema: envelope values, typed nested columns, the
// configuration map with nested values as JSON text, relationships as an array, eventjson.
func TestConfigStoreRowsHaveTheLakeSchema(t *testing.T) {
	lk, st := configStore(t)
	dir := t.TempDir()
	b, err := os.ReadFile("../../testdata/cloud-custodian-event-and-config-fixtures/cwe/event-config-rule-instance.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rule-event.json"), b)
	var file []map[string]any
	for _, it := range scenario(t) {
		file = append(file, configtest.FileStyle(it))
	}
	writeFile(t, filepath.Join(dir, "snap.json"), configtest.Snapshot(file...))
	if _, err := ingest.Config(context.Background(), lk, st, ingest.Options{Sources: []string{dir}}); err != nil {
		t.Fatal(err)
	}
	s, err := query.Open(context.Background(), lk, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), `SELECT eventversion, eventcategory, eventtype, eventtime, awsregion, recipientaccountid,
		eventdata.configurationitemstateid, eventdata.arn, element_at(eventdata.configuration, 'state'),
		cardinality(eventdata.relationships), eventdata.relationships[4].resourceid, element_at(eventdata.tags, 'Name'),
		json_extract_scalar(eventjson, '$.eventData.configuration.state.name'), typeof(eventdata)
		FROM "aws:cloudtrail"."config-items" WHERE eventdata.resourceid = 'i-094bc87c84d56c589'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 {
		t.Fatalf("got %d rows for the custodian instance", len(res.Rows))
	}
	got := res.Rows[0]
	want := []string{"1.0", "ConfigurationItem", "AwsConfigurationItem", "2016-08-24 00:13:58.422 +0000 UTC", "us-east-1", "644160558196",
		"4", "arn:aws:ec2:us-east-1:644160558196:instance/i-094bc87c84d56c589", `{"code":80,"name":"stopped"}`, "6", "vol-1eefcfcc", "redrum-redrum", "stopped"}
	for i, w := range want {
		if g := toString(got[i]); g != w {
			t.Errorf("column %s = %q, want %q", res.Columns[i].Name, g, w)
		}
	}
	// The Parquet files hold exactly the declared schema (the engine prints types in lower case
	// and quotes the keyword-like field names).
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, `"`, "")) }
	if typ, want := norm(got[len(got)-1].(string)), norm(lake.ConfigColumns[8].Type); typ != want {
		t.Errorf("eventdata type\n%s\nwant\n%s", typ, want)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// Config's S3 layout (month and day not zero-padded) read through an S3 server, with an
// oversized change notification whose item is read from the object it names.
func TestConfigIngestFromS3LayoutWithOversizedItem(t *testing.T) {
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	if err := backend.CreateBucket("cfg"); err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		t.Helper()
		if _, err := backend.PutObject("cfg", key, map[string]string{}, bytes.NewReader(b), int64(len(b)), nil); err != nil {
			t.Fatal(err)
		}
	}
	items := scenario(t)
	var file []map[string]any
	for _, it := range items {
		file = append(file, configtest.FileStyle(it))
	}
	acct, reg := configtest.Account, configtest.Region
	put(configtest.Key(acct, reg, 2026, 1, 1, "ConfigHistory", acct+"_Config_"+reg+"_ConfigHistory_AWS::AutoScaling::AutoScalingGroup_20260101T040000Z_20260101T100000Z_1.json.gz"), configtest.Gzip(configtest.History(file[3])))
	put(configtest.Key(acct, reg, 2026, 1, 5, "ConfigSnapshot", acct+"_Config_"+reg+"_ConfigSnapshot_20260105T000000Z_b0f1.json.gz"), configtest.Gzip(configtest.Snapshot(file[:3]...)))
	put("AWSLogs/"+acct+"/Config/ConfigWritabilityCheckFile", []byte("check"))
	// The oversized item of web-asg on Jan 4 lives in its own object; only the notification is
	// under the listed prefix.
	big := configtest.Key(acct, reg, 2026, 1, 4, "OversizedChangeNotification", "AWS::AutoScaling::AutoScalingGroup/web/"+acct+"_Config_"+reg+"_ChangeNotification_x_1.json.gz")
	put(big, configtest.Gzip(configtest.Notification(file[6])))
	put("notifications/oversized.json", configtest.Oversized(file[6], "cfg", big))
	lk, st := configStore(t)
	cl := objstore.New(objstore.Options{EndpointURL: srv.URL})
	sum, err := ingest.Config(context.Background(), lk, st, ingest.Options{Client: cl,
		Sources: []string{"s3://cfg/AWSLogs/" + acct + "/Config/" + reg + "/2026/1/1/", "s3://cfg/AWSLogs/" + acct + "/Config/" + reg + "/2026/1/5/", "s3://cfg/notifications/", "s3://cfg/AWSLogs/" + acct + "/Config/ConfigWritabilityCheckFile"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsAdded != 5 || sum.Errors != 0 || sum.FilesSkipped != 1 {
		t.Fatalf("summary %+v; want 5 items (1 history, 3 snapshot, 1 oversized) and the writability check skipped", sum)
	}
	if got := count(t, lk, `SELECT count(*) FROM `+query.StoreTable(st.ID)+` WHERE eventdata.configuration['launchTemplate'] LIKE '%"version":"2"%'`); got != 1 {
		t.Errorf("the oversized item (web-asg on web-approved v2) is stored %d times, want 1", got)
	}
}
