package generate_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlake/auditlake/internal/generate"
)

// small is the configuration most tests share: big enough for every launcher kind and outcome,
// small enough to generate in well under a second.
func small(out string, seed uint64) generate.Config {
	c := generate.DefaultConfig()
	c.Out, c.Events, c.Seed, c.Accounts, c.Days, c.CUR = out, 6000, seed, 3, 4, true
	return c
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// output is one generation loaded into memory.
type output struct {
	dir     string
	cfg     generate.Config
	sum     *generate.Summary
	truth   generate.Truth
	files   map[string][]byte // key (slash path under dir) → gunzipped JSON
	records []record
}

type record struct {
	file string
	raw  json.RawMessage
	m    map[string]any
}

var (
	once   sync.Once
	shared *output
	errGen error
)

// load generates the shared output once per test binary.
func load(t *testing.T) *output {
	t.Helper()
	once.Do(func() {
		dir, err := os.MkdirTemp("", "generate-test-")
		if err != nil {
			errGen = err
			return
		}
		shared, errGen = generateAndRead(dir, small(filepath.Join(dir, "out"), 42))
	})
	if errGen != nil {
		t.Fatal(errGen)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func generateAndRead(dir string, cfg generate.Config) (*output, error) {
	sum, err := generate.Run(context.Background(), cfg, quiet())
	if err != nil {
		return nil, err
	}
	o := &output{dir: dir, cfg: cfg, sum: sum, files: map[string][]byte{}}
	b, err := os.ReadFile(filepath.Join(cfg.Out, "truth.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &o.truth); err != nil {
		return nil, err
	}
	err = filepath.WalkDir(filepath.Join(cfg.Out, "AWSLogs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(cfg.Out, path)
		key := filepath.ToSlash(rel)
		o.files[key] = body
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(body, &doc); err != nil {
			return err
		}
		for _, raw := range doc.Records {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				return err
			}
			o.records = append(o.records, record{file: key, raw: raw, m: m})
		}
		return nil
	})
	return o, err
}

// hashTree returns sha256 of every file under dir, by relative path.
func hashTree(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSameSeedGivesIdenticalBytesWhateverTheWorkerCount(t *testing.T) {
	dir := t.TempDir()
	a, b, c := small(filepath.Join(dir, "a"), 7), small(filepath.Join(dir, "b"), 7), small(filepath.Join(dir, "c"), 8)
	a.Workers, b.Workers, c.Workers = 1, 3, 2
	for _, cfg := range []generate.Config{a, b, c} {
		if _, err := generate.Run(context.Background(), cfg, quiet()); err != nil {
			t.Fatal(err)
		}
	}
	ha, hb, hc := hashTree(t, a.Out), hashTree(t, b.Out), hashTree(t, c.Out)
	if len(ha) != len(hb) {
		t.Fatalf("same seed: %d files vs %d", len(ha), len(hb))
	}
	for k, v := range ha {
		if hb[k] != v {
			t.Errorf("same seed: %s differs (or is missing) between workers=1 and workers=3", k)
		}
	}
	same := 0
	for k, v := range hc {
		if ha[k] == v {
			same++
		}
	}
	if same != 0 {
		t.Errorf("different seeds: %d identical files, want 0", same)
	}
}

var keyRE = regexp.MustCompile(`^AWSLogs/(o-[a-z0-9]+)/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_([A-Za-z0-9]{16})\.json\.gz$`)

func TestFilesUseTheOrganizationTrailKeyLayout(t *testing.T) {
	o := load(t)
	if len(o.files) == 0 {
		t.Fatal("no files written")
	}
	for key := range o.files {
		m := keyRE.FindStringSubmatch(key)
		if m == nil {
			t.Errorf("key %q does not match the organization trail layout", key)
			continue
		}
		if m[1] != o.cfg.Org || m[2] != m[7] || m[3] != m[8] {
			t.Errorf("key %q: org/account/region parts disagree", key)
		}
		stamp, err := time.Parse("20060102T1504Z", m[9])
		if err != nil {
			t.Errorf("key %q: %v", key, err)
			continue
		}
		if got, want := m[4]+"/"+m[5]+"/"+m[6], stamp.Format("2006/01/02"); got != want {
			t.Errorf("key %q: folder date %s, file time says %s", key, got, want)
		}
		if strings.Contains(key, "CloudTrail-Digest") {
			t.Errorf("key %q: digests are not generated", key)
		}
	}
	if int64(len(o.files)) != o.sum.Files || o.truth.Totals.Files != o.sum.Files {
		t.Errorf("files on disk %d, summary %d, truth %d", len(o.files), o.sum.Files, o.truth.Totals.Files)
	}
}

// required are the record fields the CloudTrail record-contents doc marks Optional=False.
var required = []string{"eventTime", "eventVersion", "userIdentity", "eventSource", "eventName", "awsRegion",
	"sourceIPAddress", "requestParameters", "responseElements", "eventID", "eventType", "eventCategory"}

// allowed are all documented top-level record fields (aws-formats.md §2.1).
var allowed = map[string]bool{"eventTime": true, "eventVersion": true, "userIdentity": true, "eventSource": true,
	"eventName": true, "awsRegion": true, "sourceIPAddress": true, "requestParameters": true, "responseElements": true,
	"requestID": true, "eventID": true, "eventType": true, "eventCategory": true, "userAgent": true, "errorCode": true,
	"errorMessage": true, "additionalEventData": true, "apiVersion": true, "managementEvent": true, "readOnly": true,
	"resources": true, "recipientAccountId": true, "serviceEventDetails": true, "sharedEventID": true,
	"vpcEndpointId": true, "vpcEndpointAccountId": true, "addendum": true, "sessionCredentialFromConsole": true,
	"eventContext": true, "edgeDeviceDetails": true, "tlsDetails": true, "annotation": true}

func TestRecordsHaveTheCloudTrailShape(t *testing.T) {
	o := load(t)
	versions := map[string]bool{"1.08": true, "1.09": true, "1.10": true, "1.11": true}
	for _, r := range o.records {
		for _, k := range required {
			if _, ok := r.m[k]; !ok {
				t.Fatalf("%s: record lacks %q: %s", r.file, k, r.raw)
			}
		}
		for k := range r.m {
			if !allowed[k] {
				t.Fatalf("%s: undocumented top-level field %q", r.file, k)
			}
		}
		if !versions[r.m["eventVersion"].(string)] {
			t.Fatalf("%s: eventVersion %v", r.file, r.m["eventVersion"])
		}
		m := keyRE.FindStringSubmatch(r.file)
		if r.m["recipientAccountId"] != m[2] || r.m["awsRegion"] != m[3] {
			t.Fatalf("%s: record for %v/%v in the wrong folder", r.file, r.m["recipientAccountId"], r.m["awsRegion"])
		}
		at, err := time.Parse(time.RFC3339, r.m["eventTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		stamp, _ := time.Parse("20060102T1504Z", m[9])
		if at.After(stamp) || stamp.Sub(at) > 20*time.Minute {
			t.Fatalf("%s: event at %s is not in the 5 minutes before delivery (or a late redelivery)", r.file, at)
		}
		if res, ok := r.m["resources"].([]any); ok {
			for _, x := range res {
				if _, ok := x.(map[string]any)["ARN"]; !ok {
					t.Fatalf("%s: resource without uppercase ARN: %v", r.file, x)
				}
			}
		}
		if v, ok := r.m["sessionCredentialFromConsole"]; ok && v != "true" {
			t.Fatalf("sessionCredentialFromConsole %v, want the string \"true\"", v)
		}
	}
}

func TestEventCountIsExactAndOnlyDocumentedDuplicatesRepeat(t *testing.T) {
	o := load(t)
	seen := map[string][]record{}
	for _, r := range o.records {
		id := r.m["eventID"].(string)
		seen[id] = append(seen[id], r)
	}
	dups := 0
	for id, rs := range seen {
		if len(rs) == 1 {
			continue
		}
		if len(rs) != 2 {
			t.Errorf("event %s delivered %d times, want at most 2", id, len(rs))
		}
		if rs[0].file == rs[1].file {
			t.Errorf("event %s repeated inside one file %s", id, rs[0].file)
		}
		if !bytes.Equal(rs[0].raw, rs[1].raw) {
			t.Errorf("event %s: the redelivered copy differs", id)
		}
		dups += len(rs) - 1
	}
	tt := o.truth.Totals
	checks := []struct {
		name      string
		got, want int64
	}{
		{"distinct eventIDs vs --events", int64(len(seen)), int64(o.cfg.Events)},
		{"truth events", tt.Events, int64(o.cfg.Events)},
		{"duplicate deliveries vs truth", int64(dups), tt.Duplicates},
		{"records vs truth", int64(len(o.records)), tt.Records},
		{"records = events + duplicates", tt.Records, tt.Events + tt.Duplicates},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if dups == 0 {
		t.Error("no duplicate deliveries; CloudTrail repeats some events and the generator should too")
	}
}

// items returns responseElements.instancesSet.items of a RunInstances record.
func items(r record) []map[string]any {
	re, _ := r.m["responseElements"].(map[string]any)
	set, _ := re["instancesSet"].(map[string]any)
	its, _ := set["items"].([]any)
	out := make([]map[string]any, len(its))
	for i, x := range its {
		out[i] = x.(map[string]any)
	}
	return out
}

func tags(item map[string]any) map[string]string {
	out := map[string]string{}
	ts, _ := item["tagSet"].(map[string]any)
	list, _ := ts["items"].([]any)
	for _, x := range list {
		m := x.(map[string]any)
		out[m["key"].(string)] = m["value"].(string)
	}
	return out
}

func TestTruthMatchesTheRunInstancesRecords(t *testing.T) {
	o := load(t)
	type launched struct {
		r    record
		item map[string]any
	}
	byID := map[string]launched{}
	ended := map[string]string{} // instance id → eventTime of its TerminateInstances / BidEvictedEvent
	for _, r := range o.records {
		switch r.m["eventName"] {
		case "RunInstances":
			for _, it := range items(r) {
				byID[it["instanceId"].(string)] = launched{r, it}
			}
		case "TerminateInstances":
			for _, it := range items(r) {
				ended[it["instanceId"].(string)] = r.m["eventTime"].(string)
			}
		case "BidEvictedEvent":
			for _, id := range r.m["serviceEventDetails"].(map[string]any)["instanceIdSet"].([]any) {
				ended[id.(string)] = r.m["eventTime"].(string)
			}
		}
	}
	if len(o.truth.Instances) == 0 {
		t.Fatal("truth has no instances")
	}
	if len(byID) != len(o.truth.Instances) {
		t.Errorf("RunInstances records launch %d instances, truth lists %d", len(byID), len(o.truth.Instances))
	}
	kinds := map[generate.Launcher]int{}
	for _, in := range o.truth.Instances {
		kinds[in.Launcher]++
		l, ok := byID[in.ID]
		if !ok {
			t.Errorf("instance %s: no RunInstances record", in.ID)
			continue
		}
		tg := tags(l.item)
		if got := tg["aws:ec2launchtemplate:id"]; got != in.TemplateID {
			t.Errorf("instance %s: template tag %q, truth %q", in.ID, got, in.TemplateID)
		}
		if got := tg["aws:ec2launchtemplate:version"]; got != in.TemplateVersion {
			t.Errorf("instance %s: version tag %q, truth %q", in.ID, got, in.TemplateVersion)
		}
		if got := l.r.m["userIdentity"].(map[string]any)["arn"]; got != in.PrincipalARN {
			t.Errorf("instance %s: launched by %v, truth %s", in.ID, got, in.PrincipalARN)
		}
		if got := l.item["instanceType"]; got != in.InstanceType {
			t.Errorf("instance %s: type %v, truth %s", in.ID, got, in.InstanceType)
		}
		if got := int64(l.item["launchTime"].(float64)); got != in.LaunchTime.UnixMilli() {
			t.Errorf("instance %s: launchTime %d, truth %s", in.ID, got, in.LaunchTime)
		}
		if got, want := l.item["instanceLifecycle"] == "spot", in.Spot; got != want {
			t.Errorf("instance %s: spot in record %v, truth %v", in.ID, got, want)
		}
		if l.r.m["eventID"] != in.LaunchEventID {
			t.Errorf("instance %s: launch eventID %v, truth %s", in.ID, l.r.m["eventID"], in.LaunchEventID)
		}
		if in.TerminationTime.IsZero() {
			if at, ok := ended[in.ID]; ok {
				t.Errorf("instance %s: truth says running, but it ends at %s", in.ID, at)
			}
			continue
		}
		if got, want := ended[in.ID], in.TerminationTime.UTC().Format(time.RFC3339); got != want {
			t.Errorf("instance %s: ends at %q in the records, truth %s (%s)", in.ID, got, want, in.TerminationReason)
		}
		if !in.TerminationTime.After(in.LaunchTime) {
			t.Errorf("instance %s: terminated %s before launch %s", in.ID, in.TerminationTime, in.LaunchTime)
		}
	}
	for _, k := range generate.Launchers {
		if kinds[k] == 0 {
			t.Errorf("no instance launched by %s", k)
		}
	}
	approved := map[string]bool{}
	for _, id := range o.truth.ApprovedTemplateIDs {
		approved[id] = true
	}
	for _, in := range o.truth.Instances {
		if in.Approved != approved[in.TemplateID] {
			t.Errorf("instance %s: approved %v, but template %q approved %v", in.ID, in.Approved, in.TemplateID, approved[in.TemplateID])
		}
	}
}

// TestTheStoryHasEveryCaseReportsMustHandle checks that one small plan already holds each
// situation the compliance report and the ingest path must cope with.
func TestTheStoryHasEveryCaseReportsMustHandle(t *testing.T) {
	o := load(t)
	has := map[string]bool{}
	for _, r := range o.records {
		name, _ := r.m["eventName"].(string)
		code, _ := r.m["errorCode"].(string)
		if name == "RunInstances" {
			req := r.m["requestParameters"].(map[string]any)
			lt, _ := req["launchTemplate"].(map[string]any)
			switch {
			case lt == nil:
				has["launch without template"] = true
			case lt["launchTemplateName"] != nil && lt["version"] == "$Latest":
				has["template by name, $Latest"] = true
			case lt["version"] == "$Default":
				has["template $Default"] = true
			}
			if len(items(r)) > 1 {
				has["multi-instance launch"] = true
			}
			if code != "" && r.m["responseElements"] == nil {
				has["RunInstances "+code+" with null response"] = true
			}
			if r.m["sessionCredentialFromConsole"] == "true" && strings.HasPrefix(r.m["userAgent"].(string), "Mozilla/") {
				has["console launch"] = true
			}
			if strings.HasPrefix(r.m["userAgent"].(string), "aws-cli/2.") {
				has["cli launch"] = true
			}
		}
		if name == "CreateFleet" {
			if _, ok := r.m["requestParameters"].(map[string]any)["CreateFleetRequest"]; ok {
				has["CreateFleet PascalCase"] = true
			}
		}
		if name == "ConsoleLogin" && r.m["errorMessage"] == "Failed authentication" {
			has["failed console login"] = true
		}
		if code == "AccessDenied" || strings.HasSuffix(code, "UnauthorizedOperation") {
			has["access denied"] = true
		}
		if strings.Contains(code, "Throttl") || code == "Client.RequestLimitExceeded" {
			has["throttling"] = true
		}
		if r.m["eventCategory"] == "Data" && r.m["managementEvent"] == false {
			has["data event"] = true
		}
		for _, n := range []string{"BidEvictedEvent", "StopInstances", "StartInstances", "CreateLaunchTemplate", "CreateLaunchTemplateVersion", "RequestSpotFleet", "RunJobFlow"} {
			if name == n {
				has[n] = true
			}
		}
		if ui, _ := r.m["userIdentity"].(map[string]any); ui != nil {
			if ty, _ := ui["type"].(string); ty != "" {
				has["identity "+ty] = true
			}
		}
	}
	want := []string{"launch without template", "template by name, $Latest", "template $Default", "multi-instance launch",
		"RunInstances Client.DryRunOperation with null response", "RunInstances Client.UnauthorizedOperation with null response",
		"RunInstances Server.InsufficientInstanceCapacity with null response", "console launch", "cli launch",
		"CreateFleet PascalCase", "failed console login", "access denied", "throttling", "data event",
		"BidEvictedEvent", "StopInstances", "StartInstances", "CreateLaunchTemplate", "CreateLaunchTemplateVersion",
		"RequestSpotFleet", "RunJobFlow", "identity IAMUser", "identity AssumedRole", "identity Root", "identity AWSService"}
	for _, w := range want {
		if !has[w] {
			t.Errorf("missing: %s", w)
		}
	}
	appr, unappr, none := 0, 0, 0
	for _, in := range o.truth.Instances {
		switch {
		case in.TemplateID == "":
			none++
		case in.Approved:
			appr++
		default:
			unappr++
		}
	}
	if appr == 0 || unappr == 0 || none == 0 {
		t.Errorf("instances from approved %d, unapproved %d, no template %d: want some of each", appr, unappr, none)
	}
	if o.truth.Totals.DryRuns == 0 || o.truth.Totals.FailedLaunches == 0 {
		t.Errorf("truth totals: %d dry runs, %d failed launches", o.truth.Totals.DryRuns, o.truth.Totals.FailedLaunches)
	}
}

func TestEventsAreCompactLikeRealCloudTrail(t *testing.T) {
	o := load(t)
	jsonPer := float64(o.sum.JSONBytes) / float64(o.sum.Records)
	gzPer := float64(o.sum.Bytes) / float64(o.sum.Records)
	// Real events: about 1.5 KB of JSON, 100–250 bytes gzipped. The small plan has smaller files,
	// so allow a little more gzip overhead than the 1M-event run (about 200 bytes) shows.
	if jsonPer < 1000 || jsonPer > 2200 {
		t.Errorf("JSON per event %.0f bytes, want about 1500", jsonPer)
	}
	if gzPer < 80 || gzPer > 320 {
		t.Errorf("gzip per event %.0f bytes, want 100–250", gzPer)
	}
}

func TestRunRefusesToMixGenerationsWithoutForce(t *testing.T) {
	cfg := small(t.TempDir(), 1)
	cfg.Events = 500
	if _, err := generate.Run(context.Background(), cfg, quiet()); err != nil {
		t.Fatal(err)
	}
	if _, err := generate.Run(context.Background(), cfg, quiet()); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second run without force: err %v, want a refusal naming --force", err)
	}
	before := hashTree(t, cfg.Out)
	cfg.Force = true
	if _, err := generate.Run(context.Background(), cfg, quiet()); err != nil {
		t.Fatalf("second run with force: %v", err)
	}
	if after := hashTree(t, cfg.Out); len(after) != len(before) {
		t.Errorf("force left %d files, want the %d of one generation", len(after), len(before))
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	f := func(mod func(*generate.Config), want string) {
		t.Helper()
		c := generate.DefaultConfig()
		c.Out = "x"
		mod(&c)
		err := c.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("valid config rejected: %v", err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("err %v, want it to name %q", err, want)
		}
	}
	f(func(c *generate.Config) {}, "")
	f(func(c *generate.Config) { c.Out = "" }, "out")
	f(func(c *generate.Config) { c.Events = 10 }, "events")
	f(func(c *generate.Config) { c.Accounts = 0 }, "accounts")
	f(func(c *generate.Config) { c.Regions = nil }, "regions")
	f(func(c *generate.Config) { c.Regions = []string{"us-east-1", "us-east-1"} }, "twice")
	f(func(c *generate.Config) { c.Regions = []string{"mars"} }, "mars")
	f(func(c *generate.Config) { c.Days = 0 }, "days")
	f(func(c *generate.Config) { c.Org = "org-1" }, "org")
}

func TestRunningHoursSplitsByClockHourAndSkipsStops(t *testing.T) {
	day := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	in := generate.Instance{LaunchTime: at(1, 30), TerminationTime: at(4, 15), Stopped: []generate.Interval{{From: at(2, 0), To: at(3, 0)}}}
	got := in.RunningHours(day, day.Add(24*time.Hour))
	want := []generate.HourUsage{{Hour: at(1, 0), Fraction: 0.5}, {Hour: at(3, 0), Fraction: 1}, {Hour: at(4, 0), Fraction: 0.25}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Hour.Equal(want[i].Hour) || got[i].Fraction != want[i].Fraction {
			t.Errorf("hour %d: got %v, want %v", i, got[i], want[i])
		}
	}
	running := generate.Instance{LaunchTime: at(22, 0)}
	if got := running.RunningHours(day, day.Add(23*time.Hour)); len(got) != 1 || got[0].Fraction != 1 {
		t.Errorf("still running, clipped at the window end: got %v, want one full hour", got)
	}
}

func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	var bytes int64
	for i := 0; i < b.N; i++ {
		cfg := small(filepath.Join(dir, "run"), uint64(i))
		cfg.Events, cfg.Force = 20000, true
		sum, err := generate.Run(context.Background(), cfg, quiet())
		if err != nil {
			b.Fatal(err)
		}
		bytes = sum.JSONBytes
	}
	b.SetBytes(bytes)
	b.ReportMetric(float64(20000*b.N)/b.Elapsed().Seconds(), "events/s")
}
