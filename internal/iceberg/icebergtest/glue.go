package icebergtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Glue is an AWS Glue endpoint (the JSON 1.1 protocol: POST /, X-Amz-Target AWSGlue.<Op>) for
// the calls iceberg-go's Glue catalog makes — GetDatabase, GetDatabases, CreateDatabase,
// GetTable, GetTables, CreateTable, UpdateTable (with VersionId: a stale one is refused with
// ConcurrentModificationException, as Glue does), DeleteTable — keeping databases and tables in
// memory and recording every call with the access key it was signed with.
type Glue struct {
	// URL is the endpoint (catalog set glue --endpoint-url URL).
	URL string

	srv *httptest.Server

	mu         sync.Mutex
	databases  map[string]map[string]any
	tables     map[string]map[string]any // "db.table" → the table as GetTable returns it
	calls      []GlueCall
	interleave int
}

// GlueCall is one request to the fake Glue.
type GlueCall struct {
	Op string
	// Input is the request's JSON body.
	Input map[string]any
	// AccessKey and Region are from the request's SigV4 Authorization header.
	AccessKey, Region string
	// Refused is the error type the call was answered with ("" for a success).
	Refused string
}

// AWSEnv gives the AWS SDK the credentials keyID (and a secret) from the environment only, the
// usual chain's first link: no profile, no shared files, no instance metadata.
func AWSEnv(t testing.TB, keyID string) {
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "auditlake-test-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// NewGlue starts a Glue endpoint on loopback; it stops when the test ends.
func NewGlue(t testing.TB) *Glue {
	g := &Glue{databases: map[string]map[string]any{}, tables: map[string]map[string]any{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	g.URL = g.srv.URL
	t.Cleanup(g.srv.Close)
	return g
}

// Close stops the endpoint (as an outage would).
func (g *Glue) Close() { g.srv.Close() }

// Calls are the requests served so far.
func (g *Glue) Calls() []GlueCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]GlueCall(nil), g.calls...)
}

// Table is the stored table db.name as GetTable returns it, nil when there is none.
func (g *Glue) Table(db, name string) map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tables[db+"."+name]
}

// Put stores table (as CreateTable's TableInput) in database db, creating db, as a user's own
// table would be there before auditlake.
func (g *Glue) Put(db string, table map[string]any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.databases[db] == nil {
		g.databases[db] = map[string]any{"Name": db}
	}
	t := map[string]any{"DatabaseName": db, "VersionId": "1"}
	for k, v := range table {
		t[k] = v
	}
	g.tables[db+"."+str(table, "Name")] = t
}

// InterleaveWriter makes a writer elsewhere update each of the next n tables updated, between
// the reader's GetTable and its UpdateTable: the stored VersionId moves on, and the UpdateTable
// with the version read before is refused (ConcurrentModificationException).
func (g *Glue) InterleaveWriter(n int) {
	g.mu.Lock()
	g.interleave = n
	g.mu.Unlock()
}

var sigv4Credential = regexp.MustCompile(`Credential=([^/]+)/[0-9]+/([^/]+)/glue/aws4_request`)

func glueFail(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(400)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": msg})
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func (g *Glue) serve(w http.ResponseWriter, req *http.Request) {
	op, ok := strings.CutPrefix(req.Header.Get("X-Amz-Target"), "AWSGlue.")
	if req.Method != http.MethodPost || !ok {
		glueFail(w, "UnknownOperationException", "want POST with X-Amz-Target AWSGlue.<Op>")
		return
	}
	var in map[string]any
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		glueFail(w, "InvalidInputException", "body: "+err.Error())
		return
	}
	call := GlueCall{Op: op, Input: in}
	if m := sigv4Credential.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		call.AccessKey, call.Region = m[1], m[2]
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out map[string]any
	typ, msg := "UnrecognizedClientException", "the request is not signed (SigV4)"
	if call.AccessKey != "" {
		out, typ, msg = g.do(op, in)
	}
	call.Refused = typ
	g.calls = append(g.calls, call)
	if typ != "" {
		glueFail(w, typ, msg)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

func (g *Glue) do(op string, in map[string]any) (out map[string]any, errType, msg string) {
	now := float64(time.Now().Unix())
	db := str(in, "DatabaseName")
	switch op {
	case "GetDatabase":
		d, ok := g.databases[str(in, "Name")]
		if !ok {
			return nil, "EntityNotFoundException", "Database " + str(in, "Name") + " not found."
		}
		return map[string]any{"Database": d}, "", ""
	case "GetDatabases":
		list := []any{}
		for _, d := range g.databases {
			list = append(list, d)
		}
		return map[string]any{"DatabaseList": list}, "", ""
	case "CreateDatabase":
		di, _ := in["DatabaseInput"].(map[string]any)
		name := str(di, "Name")
		if name == "" {
			return nil, "InvalidInputException", "DatabaseInput.Name is required"
		}
		if _, ok := g.databases[name]; ok {
			return nil, "AlreadyExistsException", "Database already exists."
		}
		d := map[string]any{"CreateTime": now}
		for k, v := range di {
			d[k] = v
		}
		g.databases[name] = d
		return map[string]any{}, "", ""
	case "GetTable":
		t, ok := g.tables[db+"."+str(in, "Name")]
		if !ok {
			return nil, "EntityNotFoundException", "Table " + str(in, "Name") + " not found."
		}
		return map[string]any{"Table": t}, "", ""
	case "GetTables":
		list := []any{}
		for k, t := range g.tables {
			if strings.HasPrefix(k, db+".") {
				list = append(list, t)
			}
		}
		return map[string]any{"TableList": list}, "", ""
	case "CreateTable", "UpdateTable":
		if _, ok := g.databases[db]; !ok {
			return nil, "EntityNotFoundException", "Database " + db + " not found."
		}
		ti, _ := in["TableInput"].(map[string]any)
		key := db + "." + str(ti, "Name")
		old, exists := g.tables[key]
		version := 1
		switch {
		case op == "CreateTable" && exists:
			return nil, "AlreadyExistsException", "Table already exists."
		case op == "UpdateTable" && !exists:
			return nil, "EntityNotFoundException", "Table " + str(ti, "Name") + " not found."
		case op == "UpdateTable":
			if g.interleave > 0 {
				g.interleave--
				n, _ := strconv.Atoi(str(old, "VersionId"))
				old["VersionId"] = strconv.Itoa(n + 1)
			}
			if v := str(in, "VersionId"); v != "" && v != str(old, "VersionId") {
				return nil, "ConcurrentModificationException", fmt.Sprintf("VersionId %s is not the table's current version %s", v, str(old, "VersionId"))
			}
			n, _ := strconv.Atoi(str(old, "VersionId"))
			version = n + 1
		}
		t := map[string]any{"DatabaseName": db, "CreateTime": now, "UpdateTime": now, "VersionId": strconv.Itoa(version)}
		for k, v := range ti {
			t[k] = v
		}
		g.tables[key] = t
		return map[string]any{}, "", ""
	case "DeleteTable":
		key := db + "." + str(in, "Name")
		if _, ok := g.tables[key]; !ok {
			return nil, "EntityNotFoundException", "Table " + str(in, "Name") + " not found."
		}
		delete(g.tables, key)
		return map[string]any{}, "", ""
	}
	return nil, "UnknownOperationException", "the fake Glue does not serve " + op
}
