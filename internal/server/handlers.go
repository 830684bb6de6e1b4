package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, s.log, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) stores(w http.ResponseWriter, r *http.Request) error {
	stores, err := s.backend.Stores(r.Context())
	if err != nil {
		return fmt.Errorf("list stores: %w", err)
	}
	if stores == nil {
		stores = []Store{}
	}
	writeJSON(w, s.log, http.StatusOK, map[string]any{"stores": stores})
	return nil
}

func (s *Server) tables(w http.ResponseWriter, r *http.Request) error {
	tables, err := s.backend.Tables(r.Context())
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	if tables == nil {
		tables = []Table{}
	}
	writeJSON(w, s.log, http.StatusOK, map[string]any{"tables": tables})
	return nil
}

// queryRequest is the body of POST /api/query.
type queryRequest struct {
	SQL            string  `json:"sql"`
	MaxRows        int     `json:"max_rows"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// queryResponse is the answer of POST /api/query.
type queryResponse struct {
	Columns   []Column `json:"columns"`
	Rows      [][]any  `json:"rows"`
	RowCount  int      `json:"row_count"`
	Truncated bool     `json:"truncated"`
	MaxRows   int      `json:"max_rows"`
	ElapsedMS float64  `json:"elapsed_ms"`
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) error {
	var req queryRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.SQL) == "" {
		return badRequest("sql is empty")
	}
	maxRows := req.MaxRows
	switch {
	case maxRows == 0:
		maxRows = s.opts.DefaultMaxRows
	case maxRows < 0 || maxRows > s.opts.MaxRowsLimit:
		return badRequest("max_rows must be between 1 and %d", s.opts.MaxRowsLimit)
	}
	timeout := s.opts.DefaultTimeout
	if req.TimeoutSeconds != 0 {
		if req.TimeoutSeconds < 0 || math.IsNaN(req.TimeoutSeconds) || req.TimeoutSeconds > s.opts.MaxTimeout.Seconds() {
			return badRequest("timeout_seconds must be between 0 and %g", s.opts.MaxTimeout.Seconds())
		}
		timeout = time.Duration(req.TimeoutSeconds * float64(time.Second))
	}
	res, err := s.runQuery(r.Context(), req.SQL, maxRows, timeout)
	if err != nil {
		return err
	}
	writeJSON(w, s.log, http.StatusOK, queryResponse{
		Columns:   nonNilColumns(res.Columns),
		Rows:      normalizeRows(res.Columns, res.Rows),
		RowCount:  len(res.Rows),
		Truncated: res.Truncated,
		MaxRows:   maxRows,
		ElapsedMS: float64(res.Elapsed.Microseconds()) / 1000,
	})
	return nil
}

// runQuery runs sql with a timeout derived from ctx (the request's context, so a client that
// goes away cancels the query) and turns a deadline into a *timeoutError whatever error the
// backend wrapped it in.
func (s *Server) runQuery(ctx context.Context, sql string, maxRows int, timeout time.Duration) (*Result, error) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := s.backend.Query(qctx, sql, maxRows)
	if err != nil {
		if ctx.Err() == nil && (errors.Is(qctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)) {
			return nil, &timeoutError{after: timeout}
		}
		return nil, fmt.Errorf("run query: %w", err)
	}
	if res == nil {
		return nil, errors.New("run query: backend returned no result")
	}
	return res, nil
}

func nonNilColumns(c []Column) []Column {
	if c == nil {
		return []Column{}
	}
	return c
}

// decodeBody reads a JSON body of at most Options.MaxBodyBytes into v.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "request body must be application/json"}
	}
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		if errors.Is(err, io.EOF) {
			return badRequest("request body is empty; send a JSON object")
		}
		return badRequest("request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return badRequest("request body has data after the JSON object")
	}
	return nil
}

var reportName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func (s *Server) report(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !reportName.MatchString(name) {
		return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("report %q not found", name)}
	}
	p, err := parseReportParams(r.URL.Query())
	if err != nil {
		return err
	}
	v, err := s.backend.Report(r.Context(), name, p)
	if err != nil {
		return fmt.Errorf("report %q: %w", name, err)
	}
	writeJSON(w, s.log, http.StatusOK, v)
	return nil
}

var instanceID = regexp.MustCompile(`^i-[0-9a-f]{8,32}$`)

func (s *Server) instance(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !instanceID.MatchString(id) {
		return badRequest("instance id %q is not an EC2 instance id such as i-0123456789abcdef0", truncate(id, 80))
	}
	p, err := parseReportParams(r.URL.Query())
	if err != nil {
		return err
	}
	v, err := s.backend.Instance(r.Context(), id, p)
	if err != nil {
		return fmt.Errorf("instance %q: %w", id, err)
	}
	writeJSON(w, s.log, http.StatusOK, v)
	return nil
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// parseReportParams reads store, cost, from, to, account and approved. account and approved may
// be repeated or comma-separated.
func parseReportParams(q url.Values) (ReportParams, error) {
	var p ReportParams
	p.Store = strings.TrimSpace(q.Get("store"))
	p.Cost = strings.TrimSpace(q.Get("cost"))
	var err error
	if p.From, err = parseTimeParam("from", q.Get("from"), false); err != nil {
		return p, err
	}
	if p.To, err = parseTimeParam("to", q.Get("to"), true); err != nil {
		return p, err
	}
	if p.From != nil && p.To != nil && !p.From.Before(*p.To) {
		return p, badRequest("from must be before to")
	}
	for _, a := range listParam(q["account"]) {
		if !accountID.MatchString(a) {
			return p, badRequest("account %q is not a 12-digit AWS account id", truncate(a, 40))
		}
		p.Accounts = append(p.Accounts, a)
	}
	for _, t := range approvedParam(q["approved"]) {
		if len(t) > 256 || !utf8.ValidString(t) || strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 }) {
			return p, badRequest("approved template %q is not a launch template id or name", truncate(t, 40))
		}
		p.ApprovedTemplates = append(p.ApprovedTemplates, t)
	}
	return p, nil
}

// approvedParam splits approved templates like listParam, except that a version list stays
// with its template: "lt-0abc:1,2,lt-0def" is lt-0abc at versions 1 and 2, and lt-0def. A part
// that is a version number, $Latest or $Default continues the versions of a template before it
// that has some; repeat the parameter to name a template that looks like a version.
func approvedParam(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if n := len(out); n > 0 && strings.Contains(out[n-1], ":") && isVersion(part) {
				out[n-1] += "," + part
				continue
			}
			out = append(out, part)
		}
	}
	return out
}

func isVersion(s string) bool {
	if s == "$Latest" || s == "$Default" {
		return true
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func listParam(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// parseTimeParam accepts YYYY-MM-DD (UTC) or RFC 3339. A date given as an upper bound means the
// end of that day, so to=2026-09-30 includes all of 30 September; the returned bound is
// exclusive.
func parseTimeParam(name, v string, upper bool) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if upper {
			t = t.AddDate(0, 0, 1)
		}
		return &t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, badRequest("%s %q is not a date (2026-09-01) or an RFC 3339 time (2026-09-01T12:00:00Z)", name, truncate(v, 40))
	}
	t = t.UTC()
	return &t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// normalizeRows makes engine values, of columns cols, JSON-encodable: dates, times, UUIDs,
// intervals and decimals as Trino prints them (Present), maps with non-string keys become
// objects, NaN and infinities become strings, binary becomes base64 text, and anything json
// cannot encode becomes its fmt text.
func normalizeRows(cols []Column, rows [][]any) [][]any {
	if rows == nil {
		return [][]any{}
	}
	out := PresentedRows(cols, rows) // a copy: normalized in place
	for _, row := range out {
		for j, v := range row {
			row[j] = normalizeValue(v)
		}
	}
	return out
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, time.Time:
		return x
	case float32:
		return normalizeValue(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeValue(e)
		}
		return out
	case json.Marshaler:
		return x
	case fmt.Stringer:
		// UUIDs, decimals and intervals read best as their text.
		return x.String()
	default:
		if _, err := json.Marshal(x); err != nil {
			return fmt.Sprint(x)
		}
		return x
	}
}
