package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Issue 14 items 4 and 5: a lost manifest or a damaged data file makes its store an error that
// names it and the repair; other stores keep working; nothing deletes the files; eds repair
// recovers the store.

// twoTrails ingests the stratus samples (310 events) into stores "trail" and "other".
func twoTrails(t *testing.T) (dir, trailID string) {
	t.Helper()
	dir = t.TempDir()
	trailID = createStore(t, dir, "trail")
	createStore(t, dir, "other")
	for _, s := range []string{"trail", "other"} {
		mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", s, testdata("stratus-red-team-detonation-logs"))
	}
	return dir, trailID
}

// storeFiles lists every file under a store's data, facts and state directories.
func storeFiles(t *testing.T, dir, id string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dir, "stores", id)
	for _, sub := range []string{"data", "facts", "state"} {
		filepath.WalkDir(filepath.Join(root, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	slices.Sort(out)
	return out
}

// wantFail runs a command that must fail with exit code want, its stderr naming every one of
// names.
func wantFail(t *testing.T, want int, dir string, names []string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, dir, args...)
	if code != want {
		t.Fatalf("auditlake %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	for _, n := range names {
		if !strings.Contains(errOut, n) {
			t.Fatalf("auditlake %s: stderr does not name %q:\n%s", strings.Join(args, " "), n, errOut)
		}
	}
	return out
}

func TestALostManifestIsAnErrorNothingDeletesTheFilesAndRepairRestoresEveryRow(t *testing.T) {
	for name, attack := range map[string]func(manifest string){
		"deleted":      func(p string) { os.Remove(p) },
		"empty object": func(p string) { os.WriteFile(p, []byte("{}"), 0o644) },
		"truncated":    func(p string) { b, _ := os.ReadFile(p); os.WriteFile(p, b[:len(b)/2], 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			dir, id := twoTrails(t)
			attack(filepath.Join(dir, "stores", id, "manifest.json"))
			files := storeFiles(t, dir, id)
			repair := []string{`"trail"`, "auditlake eds repair trail"}

			wantFail(t, 1, dir, repair, "query", `SELECT count(*) FROM "aws:cloudtrail"."trail"`)
			if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."other"`); got[0][0] != "310" {
				t.Fatalf("the other store holds %v events, want 310", got)
			}
			wantFail(t, 1, dir, repair, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
			wantFail(t, 1, dir, repair, "eds", "compact", "trail")
			wantFail(t, 1, dir, repair, "eds", "purge", "trail")
			wantFail(t, 1, dir, repair, "report", "launch-compliance", "--eds", "trail")
			out := wantFail(t, 4, dir, repair, "eds", "show", "trail")
			if !strings.Contains(out, "status:") || !strings.Contains(out, "damaged") {
				t.Fatalf("eds show does not mark the store damaged:\n%s", out)
			}
			if after := storeFiles(t, dir, id); !slices.Equal(files, after) {
				t.Fatalf("files changed while the manifest was lost:\nbefore %v\nafter  %v", files, after)
			}

			out = mustRun(t, 0, dir, "eds", "repair", "trail")
			if !strings.Contains(out, "rebuilt its manifest from the files on disk") || !strings.Contains(out, "310 events") {
				t.Fatalf("eds repair said:\n%s", out)
			}
			got := queryCSV(t, dir, `SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail"."trail"`)
			if got[0][0] != "310" || got[0][1] != "310" {
				t.Fatalf("after repair the store holds %v events, want 310 distinct", got)
			}
			out = mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
			if !strings.Contains(out, "0 added") {
				t.Fatalf("the ingest state was not recovered: a re-ingest says\n%s", out)
			}
			mustRun(t, 0, dir, "eds", "show", "trail")
			mustRun(t, 0, dir, "report", "launch-compliance", "--eds", "trail")
		})
	}
}

func TestADamagedDataFileFailsOnlyItsStoreAndRepairSetsItAside(t *testing.T) {
	dir, id := twoTrails(t)
	var m struct {
		Files []struct {
			Path string
			Rows int64
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "stores", id, "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil || len(m.Files) < 2 {
		t.Fatalf("manifest: %v, %d files", err, len(m.Files))
	}
	bad := m.Files[0]
	// The attack: a data file truncated to garbage.
	if err := os.WriteFile(filepath.Join(dir, "stores", id, filepath.FromSlash(bad.Path)), []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	named := []string{`"trail"`, bad.Path, "auditlake eds repair trail"}
	wantFail(t, 1, dir, named, "query", `SELECT count(*) FROM "aws:cloudtrail"."trail"`)
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."other"`); got[0][0] != "310" {
		t.Fatalf("the other store holds %v events, want 310", got)
	}
	// Writes refuse too, and delete nothing.
	files := storeFiles(t, dir, id)
	wantFail(t, 1, dir, named, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	wantFail(t, 1, dir, named, "eds", "compact", "trail")
	if after := storeFiles(t, dir, id); !slices.Equal(files, after) {
		t.Fatalf("files changed while a file was damaged:\nbefore %v\nafter  %v", files, after)
	}
	out := wantFail(t, 4, dir, named, "eds", "show", "trail")
	if !strings.Contains(out, "damaged file:") || !strings.Contains(out, bad.Path) {
		t.Fatalf("eds show does not list the damaged file:\n%s", out)
	}

	out, _, code := run(t, dir, "eds", "show", "trail", "--output", "json")
	var shown struct {
		Status       string
		DamagedFiles []struct{ Path, Problem string } `json:"damaged_files"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || code != 4 || shown.Status != "damaged" ||
		len(shown.DamagedFiles) != 1 || shown.DamagedFiles[0].Path != bad.Path {
		t.Fatalf("eds show --output json: exit %d, %+v (%v)\n%s", code, shown, err, out)
	}
	if out := mustRun(t, 0, dir, "help", "eds", "repair"); !strings.Contains(out, "quarantine/") {
		t.Fatalf("help eds repair:\n%s", out)
	}

	base := serve(t, dir, io.Discard)
	code, body := apiCall(t, http.MethodGet, base+"/api/tables", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"other"`) {
		t.Fatalf("/api/tables: %d %s", code, body)
	}
	code, body = apiCall(t, http.MethodGet, base+"/api/stores", "")
	if code != http.StatusOK {
		t.Fatalf("/api/stores: %d %s", code, body)
	}
	var stores []struct {
		Name         string
		Status       string
		DamagedFiles []struct{ Path, Problem string } `json:"damaged_files"`
	}
	if err := json.Unmarshal(body, &stores); err != nil {
		var wrapped struct{ Stores json.RawMessage }
		if json.Unmarshal(body, &wrapped) != nil || json.Unmarshal(wrapped.Stores, &stores) != nil {
			t.Fatalf("/api/stores: %v\n%s", err, body)
		}
	}
	if len(stores) != 2 {
		t.Fatalf("/api/stores lists %d stores, want 2:\n%s", len(stores), body)
	}
	for _, s := range stores {
		switch s.Name {
		case "trail":
			if s.Status != "damaged" || len(s.DamagedFiles) != 1 || s.DamagedFiles[0].Path != bad.Path {
				t.Errorf("/api/stores trail = %+v, want damaged with %s", s, bad.Path)
			}
		case "other":
			if s.Status != "ok" || len(s.DamagedFiles) != 0 {
				t.Errorf("/api/stores other = %+v, want ok", s)
			}
		}
	}
	code, body = apiCall(t, http.MethodPost, base+"/api/query", `{"sql": "SELECT count(*) AS n FROM \"aws:cloudtrail\".\"other\""}`)
	if code != http.StatusOK || !strings.Contains(string(body), "310") {
		t.Fatalf("/api/query on the healthy store: %d %s", code, body)
	}
	code, body = apiCall(t, http.MethodPost, base+"/api/query", `{"sql": "SELECT count(*) FROM \"aws:cloudtrail\".\"trail\""}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), bad.Path) || !strings.Contains(string(body), "store_damaged") {
		t.Fatalf("/api/query on the damaged store: %d %s", code, body)
	}

	out, errOut, code := run(t, dir, "eds", "repair", "trail")
	if code != 3 || !strings.Contains(out, "dropped "+bad.Path) || !strings.Contains(out, "quarantine") {
		t.Fatalf("eds repair: exit %d, want 3 naming the dropped file\n%s\n%s", code, out, errOut)
	}
	var quarantined []string
	filepath.WalkDir(filepath.Join(dir, "stores", id, "quarantine"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			quarantined = append(quarantined, p)
		}
		return nil
	})
	if len(quarantined) != 1 || !strings.HasSuffix(filepath.ToSlash(quarantined[0]), bad.Path) {
		t.Fatalf("quarantine holds %v, want the damaged file", quarantined)
	}
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."trail"`); got[0][0] != itoa(310-int(bad.Rows)) {
		t.Fatalf("after repair the store holds %v events, want %d", got, 310-bad.Rows)
	}
	// The ingest state was cleared with the lost events: a re-ingest adds them back, once.
	mustRun(t, 0, dir, "ingest", "cloudtrail", "--eds", "trail", testdata("stratus-red-team-detonation-logs"))
	got := queryCSV(t, dir, `SELECT count(*), count(DISTINCT eventid) FROM "aws:cloudtrail"."trail"`)
	if got[0][0] != "310" || got[0][1] != "310" {
		t.Fatalf("after re-ingest the store holds %v events, want 310 distinct", got)
	}
}

func TestPutAuditEventsIntoADamagedStoreAnswers503AndDeletesNothing(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, 0, dir, "eds", "create", "app-events", "--type", "activity", "--output", "json")
	var st struct{ ID string }
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	arn := strings.TrimSpace(mustRun(t, 0, dir, "channel", "create", "my-app", "--eds", "app-events", "--account", channelAccount))
	token := strings.TrimSpace(mustRun(t, 0, dir, "token", "create", "--channel", "my-app", "--name", "e2e"))
	base := serve(t, dir, io.Discard)
	putURL := base + "/PutAuditEvents?channelArn=" + url.QueryEscape(arn)
	ev := func(id string) []byte {
		data := auditEventData(t, id, "CreateUser", "2026-03-01T10:00:00Z", channelAccount, nil)
		return requestBody(t, map[string]string{"id": id, "eventData": data})
	}
	if status, res := post(t, putURL, token, ev("ev-1")); status != http.StatusOK || len(res.Successful) != 1 {
		t.Fatalf("put into a healthy store: %d %+v", status, res)
	}
	os.Remove(filepath.Join(dir, "stores", st.ID, "manifest.json"))
	files := storeFiles(t, dir, st.ID)
	status, res := post(t, putURL, token, ev("ev-2"))
	if status != http.StatusServiceUnavailable || res.Error == nil || !strings.Contains(res.Error.Message, "auditlake eds repair app-events") {
		t.Fatalf("put into a store without manifest: %d %+v", status, res.Error)
	}
	if after := storeFiles(t, dir, st.ID); !slices.Equal(files, after) {
		t.Fatalf("files changed:\nbefore %v\nafter  %v", files, after)
	}
	mustRun(t, 0, dir, "eds", "repair", "app-events")
	if status, res := post(t, putURL, token, ev("ev-2")); status != http.StatusOK || len(res.Successful) != 1 {
		t.Fatalf("put after repair: %d %+v", status, res)
	}
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."app-events"`); got[0][0] != "2" {
		t.Fatalf("the store holds %v events after repair and a put, want 2", got)
	}
}

func TestRepairRebuildsAConfigStoreFromItsFiles(t *testing.T) {
	dir := t.TempDir()
	id := createConfigStore(t, dir, "cfg")
	mustRun(t, 0, dir, "ingest", "config", "--eds", "cfg", configSources(t))
	os.WriteFile(filepath.Join(dir, "stores", id, "manifest.json"), []byte("{}"), 0o644)
	wantFail(t, 1, dir, []string{"auditlake eds repair cfg"}, "query", `SELECT count(*) FROM "aws:cloudtrail"."cfg"`)
	out := mustRun(t, 0, dir, "eds", "repair", "cfg")
	if !strings.Contains(out, "15 events") {
		t.Fatalf("eds repair of a config store:\n%s", out)
	}
	if got := queryCSV(t, dir, `SELECT count(*) FROM "aws:cloudtrail"."cfg"`); got[0][0] != "15" {
		t.Fatalf("after repair the config store holds %v items, want 15", got)
	}
}
