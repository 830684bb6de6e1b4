package server_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/server"
)

// testBackend is a small, self-consistent Backend for the API and browser tests. Its reports are
// computed from a fixed fleet of instances (so totals are checked against an independent sum in
// the tests), and its Query understands a tiny subset of SQL: SELECT columns FROM a known table
// [LIMIT n], over in-memory rows. Anything else is a QueryError with an engine-like message,
// and SQL that calls sleep() blocks until its context ends.
type testBackend struct {
	stores    []server.Store
	instances []testInstance
	events    map[string][][]any // table key → rows in eventColumns order (or the table's own columns)
	columns   map[string][]server.Column

	mu         sync.Mutex
	queries    []string // every SQL text Query received
	lastCtx    context.Context
	lastParams server.ReportParams
	lastCaller access.Caller
	lastClient string
}

// errNoCaller is what the test backend answers to a context without an access.Caller, as the
// real backend does: a request that reaches the backend unauthenticated fails its test.
var errNoCaller = errors.New("test backend: request without an authenticated caller")

// caller records the request's caller and client identity; an unauthenticated context is
// errNoCaller.
func (b *testBackend) caller(ctx context.Context) error {
	c, ok := access.CallerFrom(ctx)
	if !ok {
		return errNoCaller
	}
	b.mu.Lock()
	b.lastCaller, b.lastClient = c, server.ClientFromContext(ctx)
	b.mu.Unlock()
	return nil
}

type testInstance struct {
	row   map[string]any // a launch-compliance row
	daily map[string]float64
}

const storeID = "0f6d1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

// hostileTable is a table of the test backend whose text cells start like spreadsheet formulas.
const hostileTable = `"csv"."hostile"`

var eventColumns = []server.Column{
	{Name: "eventtime", Type: "TIMESTAMP"},
	{Name: "eventsource", Type: "VARCHAR"},
	{Name: "eventname", Type: "VARCHAR"},
	{Name: "awsregion", Type: "VARCHAR"},
	{Name: "errorcode", Type: "VARCHAR"},
}

func newTestBackend() *testBackend {
	first := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	last := time.Date(2026, 9, 7, 18, 30, 0, 0, time.UTC)
	b := &testBackend{
		stores: []server.Store{{ID: storeID, Name: "management-events", Table: `"aws:cloudtrail"."` + storeID + `"`, Type: "cloudtrail", RetentionDays: 2557, Events: 6, Bytes: 48213, FirstEvent: &first, LastEvent: &last}},
		events: map[string][][]any{},
		columns: map[string][]server.Column{
			// Cells a spreadsheet would run as formulas, beside negative numbers (the CSV export).
			hostileTable: {{Name: "name", Type: "VARCHAR"}, {Name: "delta", Type: "INTEGER"}, {Name: "note", Type: "VARCHAR"}, {Name: "amount", Type: "DECIMAL(10,2)"}},
		},
	}
	b.events[hostileTable] = [][]any{
		{`=HYPERLINK("http://evil.example","x")`, -5, "+1", "-3.50"},
		{"@SUM(A1)", 7, "\tcmd", "2.00"},
		{"plain", -1, "-x", nil},
		{"a=b", 0, "\r=1", "-0.01"},
	}
	ev := func(ts, src, name, region string, errcode any) []any {
		t, _ := time.Parse(time.RFC3339, ts)
		return []any{t, src, name, region, errcode}
	}
	b.events[`"aws:cloudtrail"."`+storeID+`"`] = [][]any{
		ev("2026-09-01T08:00:00Z", "ec2.amazonaws.com", "RunInstances", "us-east-1", nil),
		ev("2026-09-01T08:05:00Z", "ec2.amazonaws.com", "CreateTags", "us-east-1", nil),
		ev("2026-09-02T10:00:00Z", "iam.amazonaws.com", "AttachRolePolicy", "us-east-1", "AccessDenied"),
		ev("2026-09-03T11:00:00Z", "s3.amazonaws.com", "GetObject", "eu-west-1", nil),
		ev("2026-09-05T12:00:00Z", "ec2.amazonaws.com", "TerminateInstances", "us-east-1", nil),
		ev("2026-09-07T18:30:00Z", "signin.amazonaws.com", "ConsoleLogin", "us-east-1", nil),
	}
	inst := func(id, status, by, launcher, tmpl string, daily map[string]float64) testInstance {
		total := 0.0
		for _, v := range daily {
			total += v
		}
		return testInstance{daily: daily, row: map[string]any{
			"instance_id": id, "account_id": "111122223333", "region": "us-east-1",
			"launched_at": "2026-09-01T08:00:00Z", "launched_by": by,
			"role_arn": "", "source_identity": "", "launcher": launcher, "auto_scaling_group": map[bool]string{true: "web-asg", false: ""}[launcher == "autoscaling.amazonaws.com" || id == "i-0bbb000000000002"],
			"template_id": tmpl, "template_name": map[bool]string{true: "", false: "web-" + tmpl}[tmpl == ""],
			"template_version": map[bool]string{true: "", false: "3"}[tmpl == ""],
			"status":           status, "reason": "", "terminated_at": nil, "runtime_hours": float64(len(daily) * 24),
			"unblended_cost": total, "effective_cost": total * 0.9,
		}}
	}
	b.instances = []testInstance{
		inst("i-0aaa000000000001", "approved", "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling", "autoscaling.amazonaws.com", "lt-0a1", map[string]float64{"2026-09-01": 4.80, "2026-09-02": 4.80, "2026-09-03": 2.40}),
		inst("i-0bbb000000000002", "not_approved", "arn:aws:iam::111122223333:user/alice", "console", "lt-0b2", map[string]float64{"2026-09-01": 1.25, "2026-09-02": 3.10}),
		inst("i-0ccc000000000003", "no_template", "arn:aws:sts::111122223333:assumed-role/Admin/bob", "aws-cli", "", map[string]float64{"2026-09-02": 0.75, "2026-09-03": 2.05, "2026-09-04": 1.00}),
	}
	return b
}

func (b *testBackend) Stores(ctx context.Context) ([]server.Store, error) {
	if err := b.caller(ctx); err != nil {
		return nil, err
	}
	return b.stores, nil
}

func (b *testBackend) Tables(ctx context.Context) ([]server.Table, error) {
	if err := b.caller(ctx); err != nil {
		return nil, err
	}
	return []server.Table{
		{Schema: "aws:cloudtrail", Name: storeID, Kind: "eds", Columns: eventColumns},
		{Schema: "cur", Name: "cur_2026", Kind: "cost", Columns: []server.Column{{Name: "line_item_resource_id", Type: "VARCHAR"}, {Name: "line_item_unblended_cost", Type: "DOUBLE"}}},
	}, nil
}

var selectRE = regexp.MustCompile(`(?is)^\s*select\s+(.+?)\s+from\s+("[^"]+"\."[^"]+")\s*(?:limit\s+(\d+))?\s*;?\s*$`)

func (b *testBackend) Query(ctx context.Context, sql string, maxRows int) (*server.Result, error) {
	if err := b.caller(ctx); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.queries = append(b.queries, sql)
	b.lastCtx = ctx
	b.mu.Unlock()
	start := time.Now()
	if strings.Contains(strings.ToLower(sql), "sleep(") {
		<-ctx.Done()
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if strings.HasPrefix(strings.TrimSpace(sql), "SELECT count(*) AS events,") || strings.Contains(sql, "date_trunc(") || strings.Contains(sql, "LIMIT 10") || strings.Contains(sql, "ConsoleLogin") {
		// Activity widgets: answer with the right column count so the page renders.
		return b.widget(sql, start)
	}
	m := selectRE.FindStringSubmatch(sql)
	if m == nil {
		return nil, &server.QueryError{Msg: "Parser Error: syntax error at or near \"" + firstWord(sql) + "\""}
	}
	rows, ok := b.events[m[2]]
	if !ok {
		return nil, &server.QueryError{Msg: "Catalog Error: Table with name " + m[2] + " does not exist!"}
	}
	tableColumns := eventColumns
	if c, ok := b.columns[m[2]]; ok {
		tableColumns = c
	}
	var idx []int
	var cols []server.Column
	for _, name := range strings.Split(m[1], ",") {
		name = strings.TrimSpace(name)
		if name == "*" {
			for i, c := range tableColumns {
				idx, cols = append(idx, i), append(cols, c)
			}
			continue
		}
		i := slices.IndexFunc(tableColumns, func(c server.Column) bool { return strings.EqualFold(c.Name, name) })
		if i < 0 {
			return nil, &server.QueryError{Msg: fmt.Sprintf("Binder Error: Referenced column %q not found in FROM clause!", name)}
		}
		idx, cols = append(idx, i), append(cols, tableColumns[i])
	}
	limit := len(rows)
	if m[3] != "" {
		limit, _ = strconv.Atoi(m[3])
	}
	res := &server.Result{Columns: cols}
	for _, r := range rows[:min(limit, len(rows))] {
		if len(res.Rows) == maxRows {
			res.Truncated = true
			break
		}
		out := make([]any, len(idx))
		for j, i := range idx {
			out[j] = r[i]
		}
		res.Rows = append(res.Rows, out)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// QueryBatch answers each query as Query does; a whole-batch error (no caller, ctx done) fails
// the batch.
func (b *testBackend) QueryBatch(ctx context.Context, sqls []string, maxRows int) ([]server.BatchResult, error) {
	if err := b.caller(ctx); err != nil {
		return nil, err
	}
	out := make([]server.BatchResult, len(sqls))
	for i, sql := range sqls {
		res, err := b.Query(ctx, sql, maxRows)
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		out[i] = server.BatchResult{Result: res, Err: err}
	}
	return out, nil
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// widget answers the activity dashboard's queries with plausible rows of the right shape.
func (b *testBackend) widget(sql string, start time.Time) (*server.Result, error) {
	rows := b.events[`"aws:cloudtrail"."`+storeID+`"`]
	count := func(col int) [][]any {
		n := map[string]int64{}
		for _, r := range rows {
			if v, ok := r[col].(string); ok {
				n[v]++
			}
		}
		var out [][]any
		for k, v := range n {
			out = append(out, []any{k, v})
		}
		sort.Slice(out, func(i, j int) bool {
			return out[i][1].(int64) > out[j][1].(int64) || (out[i][1] == out[j][1] && out[i][0].(string) < out[j][0].(string))
		})
		return out
	}
	res := &server.Result{Elapsed: time.Since(start)}
	switch {
	case strings.HasPrefix(strings.TrimSpace(sql), "SELECT count(*) AS events,"):
		res.Columns = []server.Column{{"events", "BIGINT"}, {"errors", "BIGINT"}, {"principals", "BIGINT"}, {"services", "BIGINT"}, {"regions", "BIGINT"}, {"accounts", "BIGINT"}}
		res.Rows = [][]any{{int64(len(rows)), int64(1), int64(3), int64(4), int64(2), int64(1)}}
	case strings.Contains(sql, "date_trunc("):
		res.Columns = []server.Column{{"time", "TIMESTAMP"}, {"events", "BIGINT"}, {"errors", "BIGINT"}}
		byDay := map[time.Time][2]int64{}
		for _, r := range rows {
			d := r[0].(time.Time).Truncate(24 * time.Hour)
			c := byDay[d]
			c[0]++
			if r[4] != nil {
				c[1]++
			}
			byDay[d] = c
		}
		for d, c := range byDay {
			res.Rows = append(res.Rows, []any{d, c[0], c[1]})
		}
		sort.Slice(res.Rows, func(i, j int) bool { return res.Rows[i][0].(time.Time).Before(res.Rows[j][0].(time.Time)) })
	case strings.Contains(sql, "ConsoleLogin"):
		res.Columns = []server.Column{{"outcome", "VARCHAR"}, {"mfa", "VARCHAR"}, {"signins", "BIGINT"}}
		res.Rows = [][]any{{"success", "mfa", int64(1)}}
	case strings.Contains(sql, "AS service"):
		res.Columns, res.Rows = []server.Column{{"service", "VARCHAR"}, {"events", "BIGINT"}}, count(1)
	case strings.Contains(sql, "AS event_name"):
		res.Columns, res.Rows = []server.Column{{"event_name", "VARCHAR"}, {"events", "BIGINT"}}, count(2)
	case strings.Contains(sql, "AS region"):
		res.Columns, res.Rows = []server.Column{{"region", "VARCHAR"}, {"events", "BIGINT"}}, count(3)
	case strings.Contains(sql, "AS error_code"):
		res.Columns, res.Rows = []server.Column{{"error_code", "VARCHAR"}, {"events", "BIGINT"}}, count(4)
	default:
		return nil, &server.QueryError{Msg: "Binder Error: column not in the test backend"}
	}
	return res, nil
}

func (b *testBackend) filtered(p server.ReportParams) []testInstance {
	var out []testInstance
	for _, in := range b.instances {
		if len(p.Accounts) > 0 && !slices.Contains(p.Accounts, in.row["account_id"].(string)) {
			continue
		}
		out = append(out, in)
	}
	return out
}

func (b *testBackend) checkStore(p server.ReportParams) error {
	if p.Store != "" && !slices.ContainsFunc(b.stores, func(s server.Store) bool { return s.ID == p.Store }) {
		return fmt.Errorf("event data store %q: %w", p.Store, server.ErrNotFound)
	}
	return nil
}

func (b *testBackend) Report(ctx context.Context, name string, p server.ReportParams) (any, error) {
	if err := b.caller(ctx); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.lastParams = p
	b.mu.Unlock()
	if err := b.checkStore(p); err != nil {
		return nil, err
	}
	switch name {
	case "launch-compliance":
		rows := []map[string]any{}
		sum := map[string]any{"instances": 0, "approved": 0, "not_approved": 0, "no_template": 0, "unblended_cost": 0.0, "effective_cost": 0.0, "not_approved_cost": 0.0}
		for _, in := range b.filtered(p) {
			rows = append(rows, in.row)
			st := in.row["status"].(string)
			sum["instances"] = sum["instances"].(int) + 1
			sum[st] = sum[st].(int) + 1
			sum["unblended_cost"] = sum["unblended_cost"].(float64) + in.row["unblended_cost"].(float64)
			sum["effective_cost"] = sum["effective_cost"].(float64) + in.row["effective_cost"].(float64)
			if st != "approved" {
				sum["not_approved_cost"] = sum["not_approved_cost"].(float64) + in.row["unblended_cost"].(float64)
			}
		}
		return map[string]any{"currency": "USD", "rows": rows, "summary": sum}, nil
	case "daily-spend":
		type key struct{ day, status string }
		agg := map[key]float64{}
		for _, in := range b.filtered(p) {
			for d, c := range in.daily {
				agg[key{d, in.row["status"].(string)}] += c
			}
		}
		rows := []map[string]any{}
		for k, v := range agg {
			rows = append(rows, map[string]any{"day": k.day, "status": k.status, "unblended_cost": v, "effective_cost": v * 0.9})
		}
		sort.Slice(rows, func(i, j int) bool {
			return rows[i]["day"].(string)+rows[i]["status"].(string) < rows[j]["day"].(string)+rows[j]["status"].(string)
		})
		return map[string]any{"currency": "USD", "rows": rows}, nil
	}
	return nil, fmt.Errorf("report %q: %w", name, server.ErrNotFound)
}

func (b *testBackend) Answer(ctx context.Context, sql string, fn func(context.Context) (int, error)) error {
	if err := b.caller(ctx); err != nil {
		return err
	}
	_, err := fn(ctx)
	return err
}

func (b *testBackend) Instance(ctx context.Context, id string, p server.ReportParams) (any, error) {
	if err := b.caller(ctx); err != nil {
		return nil, err
	}
	if err := b.checkStore(p); err != nil {
		return nil, err
	}
	for _, in := range b.instances {
		if in.row["instance_id"] != id {
			continue
		}
		var daily []map[string]any
		for d, c := range in.daily {
			daily = append(daily, map[string]any{"day": d, "unblended_cost": c, "effective_cost": c * 0.9})
		}
		sort.Slice(daily, func(i, j int) bool { return daily[i]["day"].(string) < daily[j]["day"].(string) })
		return map[string]any{
			"instance_id": id,
			"summary":     in.row,
			"events": []map[string]any{
				{"time": "2026-08-30T09:00:00Z", "event_name": "CreateLaunchTemplateVersion", "event_source": "ec2.amazonaws.com", "actor": "arn:aws:iam::111122223333:user/alice", "kind": "template", "detail": "version 3"},
				{"time": "2026-09-01T08:00:00Z", "event_name": "RunInstances", "event_source": "ec2.amazonaws.com", "actor": in.row["launched_by"], "kind": "launch", "detail": "m6i.large in us-east-1a"},
				{"time": "2026-09-01T08:05:00Z", "event_name": "CreateTags", "event_source": "ec2.amazonaws.com", "actor": in.row["launched_by"], "kind": "tags", "detail": "Name=web"},
				{"time": "2026-09-05T12:00:00Z", "event_name": "TerminateInstances", "event_source": "ec2.amazonaws.com", "actor": "arn:aws:iam::111122223333:user/alice", "kind": "end", "detail": ""},
			},
			"daily_cost": daily,
		}, nil
	}
	return nil, fmt.Errorf("instance %q: %w", id, server.ErrNotFound)
}

func (b *testBackend) sqlSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.queries...)
}
