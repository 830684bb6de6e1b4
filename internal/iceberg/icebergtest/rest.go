// Package icebergtest serves the catalogs auditlake's Iceberg tables are tested against, on
// loopback, for tests only: an Iceberg REST catalog (the REST OpenAPI's config, OAuth2 token,
// namespace and table routes, commits checked against their requirements) backed by iceberg-go's
// SQL catalog, and an AWS Glue endpoint speaking the Glue JSON 1.1 API for the calls iceberg-go's
// Glue catalog makes, keeping tables in memory and recording the calls.
package icebergtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	_ "github.com/apache/iceberg-go/catalog/sql" // the REST catalog's backing store
	"github.com/apache/iceberg-go/table"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// REST is an Iceberg REST catalog server.
type REST struct {
	// URL is the catalog's base URI (catalog set rest URL).
	URL string
	// Warehouse is where it writes table metadata (file://).
	Warehouse string

	back  catalog.Catalog
	srv   *httptest.Server
	token string // the bearer token every request needs ("" for none)
	id    string // the OAuth2 client credential exchanged for token at /v1/oauth/tokens
	sec   string

	mu         sync.Mutex
	failStatus int // every table commit fails with this status while set
	calls      []string
}

// RESTOptions are a REST server's settings.
type RESTOptions struct {
	// Token, when set, is the bearer token every request must carry.
	Token string
	// ClientID and ClientSecret, when set, are exchanged for Token at the token endpoint.
	ClientID, ClientSecret string
	// Storage are further properties of the server's own catalog, such as the S3 endpoint it
	// writes tables' metadata with (a REST catalog server has its own storage settings).
	Storage iceberggo.Properties
}

// NewREST starts a REST catalog on loopback; it stops when the test ends.
func NewREST(t testing.TB, o RESTOptions) *REST {
	t.Helper()
	dir := t.TempDir()
	wh := "file://" + filepath.Join(dir, "warehouse")
	props := iceberggo.Properties{
		"type":                "sql",
		"uri":                 "file:" + filepath.Join(dir, "catalog.db") + "?_pragma=busy_timeout(10000)",
		"sql.driver":          sqliteshim.ShimName,
		"sql.dialect":         "sqlite",
		"warehouse":           wh,
		"init_catalog_tables": "true",
	}
	maps.Copy(props, o.Storage)
	back, err := catalog.Load(context.Background(), "rest-backing", props)
	if err != nil {
		t.Fatal(err)
	}
	r := &REST{Warehouse: wh, back: back, token: o.Token, id: o.ClientID, sec: o.ClientSecret}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(func() {
		r.srv.Close()
		if c, ok := back.(catalog.Closer); ok {
			c.Close()
		}
	})
	return r
}

// FailCommits makes every table commit fail with status (409: CommitFailedException, 500:
// a server error) until Heal.
func (r *REST) FailCommits(status int) {
	r.mu.Lock()
	r.failStatus = status
	r.mu.Unlock()
}

// Heal ends FailCommits.
func (r *REST) Heal() { r.FailCommits(0) }

// Calls are the requests served so far, "METHOD /path".
func (r *REST) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

type restError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

func fail(w http.ResponseWriter, code int, typ, msg string) {
	var e restError
	e.Error.Message, e.Error.Type, e.Error.Code = msg, typ, code
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(e)
}

// failed answers err, when there is one: 404 typ for notFound, 500 otherwise.
func failed(w http.ResponseWriter, err, notFound error, typ string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, notFound):
		fail(w, 404, typ, err.Error())
	default:
		fail(w, 500, "ServerError", err.Error())
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(w, 500, "ServerError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

type identifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

type loadTableResult struct {
	MetadataLocation string               `json:"metadata-location"`
	Metadata         table.Metadata       `json:"metadata"`
	Config           iceberggo.Properties `json:"config"`
}

func (r *REST) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.calls = append(r.calls, req.Method+" "+req.URL.Path)
	failStatus := r.failStatus
	r.mu.Unlock()
	ctx := req.Context()
	var parts []string
	for _, p := range strings.Split(strings.Trim(req.URL.EscapedPath(), "/"), "/") {
		u, err := url.PathUnescape(p)
		if err != nil {
			fail(w, 400, "BadRequestException", "path: "+err.Error())
			return
		}
		parts = append(parts, u)
	}
	if len(parts) == 0 || parts[0] != "v1" {
		fail(w, 404, "NotFoundException", "no route "+req.URL.Path)
		return
	}
	parts = parts[1:]
	if len(parts) == 2 && parts[0] == "oauth" && parts[1] == "tokens" && req.Method == http.MethodPost {
		r.tokens(w, req)
		return
	}
	if r.token != "" && req.Header.Get("Authorization") != "Bearer "+r.token {
		fail(w, 401, "NotAuthorizedException", "missing or wrong bearer token")
		return
	}
	switch {
	case len(parts) == 1 && parts[0] == "config" && req.Method == http.MethodGet:
		reply(w, map[string]any{"defaults": map[string]string{}, "overrides": map[string]string{}})
	case len(parts) == 1 && parts[0] == "namespaces":
		r.namespaces(ctx, w, req)
	case len(parts) >= 2 && parts[0] == "namespaces":
		ns := table.Identifier(strings.Split(parts[1], "\x1f"))
		switch {
		case len(parts) == 2:
			r.namespace(ctx, w, req, ns)
		case len(parts) == 3 && parts[2] == "tables":
			r.tables(ctx, w, req, ns)
		case len(parts) == 4 && parts[2] == "tables":
			r.table(ctx, w, req, append(ns, parts[3]), failStatus)
		default:
			fail(w, 404, "NotFoundException", "no route "+req.URL.Path)
		}
	default:
		fail(w, 404, "NotFoundException", "no route "+req.URL.Path)
	}
}

func (r *REST) tokens(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		fail(w, 400, "invalid_request", err.Error())
		return
	}
	if r.id == "" || req.Form.Get("grant_type") != "client_credentials" || req.Form.Get("client_id") != r.id || req.Form.Get("client_secret") != r.sec {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "unknown client credential"})
		return
	}
	reply(w, map[string]any{"access_token": r.token, "token_type": "bearer", "expires_in": 3600,
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})
}

func (r *REST) namespaces(ctx context.Context, w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodGet:
		list, err := r.back.ListNamespaces(ctx, nil)
		if err != nil {
			fail(w, 500, "ServerError", err.Error())
			return
		}
		out := [][]string{}
		for _, n := range list {
			out = append(out, n)
		}
		reply(w, map[string]any{"namespaces": out})
	case http.MethodPost:
		var body struct {
			Namespace  []string             `json:"namespace"`
			Properties iceberggo.Properties `json:"properties"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil || len(body.Namespace) == 0 {
			fail(w, 400, "BadRequestException", fmt.Sprintf("create namespace: bad body (%v)", err))
			return
		}
		err := r.back.CreateNamespace(ctx, body.Namespace, body.Properties)
		if errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			fail(w, 409, "AlreadyExistsException", err.Error())
			return
		}
		if err != nil {
			fail(w, 500, "ServerError", err.Error())
			return
		}
		if body.Properties == nil {
			body.Properties = iceberggo.Properties{}
		}
		reply(w, body)
	default:
		fail(w, 405, "BadRequestException", req.Method+" namespaces")
	}
}

func (r *REST) namespace(ctx context.Context, w http.ResponseWriter, req *http.Request, ns table.Identifier) {
	props, err := r.back.LoadNamespaceProperties(ctx, ns)
	if failed(w, err, catalog.ErrNoSuchNamespace, "NoSuchNamespaceException") {
		return
	}
	switch req.Method {
	case http.MethodHead:
		w.WriteHeader(204)
	case http.MethodGet:
		reply(w, map[string]any{"namespace": ns, "properties": props})
	default:
		fail(w, 405, "BadRequestException", req.Method+" namespace")
	}
}

func (r *REST) tables(ctx context.Context, w http.ResponseWriter, req *http.Request, ns table.Identifier) {
	switch req.Method {
	case http.MethodGet:
		out := []identifier{}
		for id, err := range r.back.ListTables(ctx, ns) {
			if failed(w, err, catalog.ErrNoSuchNamespace, "NoSuchNamespaceException") {
				return
			}
			out = append(out, identifier{Namespace: id[:len(id)-1], Name: id[len(id)-1]})
		}
		reply(w, map[string]any{"identifiers": out})
	case http.MethodPost:
		var body struct {
			Name          string                   `json:"name"`
			Schema        *iceberggo.Schema        `json:"schema"`
			Location      string                   `json:"location"`
			PartitionSpec *iceberggo.PartitionSpec `json:"partition-spec"`
			WriteOrder    *table.SortOrder         `json:"write-order"`
			StageCreate   bool                     `json:"stage-create"`
			Properties    iceberggo.Properties     `json:"properties"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil || body.Name == "" || body.Schema == nil {
			fail(w, 400, "BadRequestException", fmt.Sprintf("create table: bad body (%v)", err))
			return
		}
		if body.StageCreate {
			fail(w, 501, "NotImplementedException", "staged create")
			return
		}
		opts := []catalog.CreateTableOpt{catalog.WithProperties(body.Properties)}
		if body.Location != "" {
			opts = append(opts, catalog.WithLocation(body.Location))
		}
		if body.PartitionSpec != nil {
			opts = append(opts, catalog.WithPartitionSpec(body.PartitionSpec))
		}
		if body.WriteOrder != nil {
			opts = append(opts, catalog.WithSortOrder(*body.WriteOrder))
		}
		tbl, err := r.back.CreateTable(ctx, append(ns, body.Name), body.Schema, opts...)
		switch {
		case errors.Is(err, catalog.ErrNoSuchNamespace):
			fail(w, 404, "NoSuchNamespaceException", err.Error())
		case errors.Is(err, catalog.ErrTableAlreadyExists):
			fail(w, 409, "AlreadyExistsException", err.Error())
		case err != nil:
			fail(w, 500, "ServerError", err.Error())
		default:
			reply(w, loadTableResult{MetadataLocation: tbl.MetadataLocation(), Metadata: tbl.Metadata(), Config: iceberggo.Properties{}})
		}
	default:
		fail(w, 405, "BadRequestException", req.Method+" tables")
	}
}

func (r *REST) table(ctx context.Context, w http.ResponseWriter, req *http.Request, ident table.Identifier, failStatus int) {
	tbl, err := r.back.LoadTable(ctx, ident)
	if failed(w, err, catalog.ErrNoSuchTable, "NoSuchTableException") {
		return
	}
	switch req.Method {
	case http.MethodHead:
		w.WriteHeader(204)
	case http.MethodGet:
		reply(w, loadTableResult{MetadataLocation: tbl.MetadataLocation(), Metadata: tbl.Metadata(), Config: iceberggo.Properties{}})
	case http.MethodDelete:
		if err := r.back.DropTable(ctx, ident); err != nil {
			fail(w, 500, "ServerError", err.Error())
			return
		}
		w.WriteHeader(204)
	case http.MethodPost:
		var body struct {
			Identifier   *identifier        `json:"identifier"`
			Requirements table.Requirements `json:"requirements"`
			Updates      table.Updates      `json:"updates"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			fail(w, 400, "BadRequestException", "commit: "+err.Error())
			return
		}
		if failStatus != 0 {
			typ := "ServerError"
			if failStatus == 409 {
				typ = "CommitFailedException"
			}
			fail(w, failStatus, typ, "the test server refuses commits")
			return
		}
		for _, rq := range body.Requirements {
			if err := rq.Validate(tbl.Metadata()); err != nil {
				fail(w, 409, "CommitFailedException", err.Error())
				return
			}
		}
		meta, loc, err := r.back.CommitTable(ctx, ident, body.Requirements, body.Updates)
		if errors.Is(err, table.ErrCommitFailed) {
			fail(w, 409, "CommitFailedException", err.Error())
			return
		}
		if err != nil {
			fail(w, 500, "ServerError", err.Error())
			return
		}
		reply(w, map[string]any{"metadata-location": loc, "metadata": meta})
	default:
		fail(w, 405, "BadRequestException", req.Method+" table")
	}
}
