package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

type startQueryRequest struct {
	QueryStatement  string   `json:"QueryStatement"`
	DeliveryS3Uri   string   `json:"DeliveryS3Uri"`
	QueryAlias      string   `json:"QueryAlias"`
	QueryParameters []string `json:"QueryParameters"`
}

// maxStatement is Lake's limit on QueryStatement, in characters (the service model's max, a
// length the SDKs count in characters).
const maxStatement = 10000

func (h *Handler) startQuery(ctx context.Context, c *call) (any, *Error) {
	var req startQueryRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	// QueryAlias and QueryParameters, Lake's dashboard queries, stand instead of a QueryStatement:
	// refused as unsupported before a missing QueryStatement is.
	switch {
	case req.QueryAlias != "":
		return nil, errorf(http.StatusBadRequest, "UnsupportedOperationException", "QueryAlias: auditlake has no Lake dashboards; send a QueryStatement")
	case len(req.QueryParameters) > 0:
		return nil, errorf(http.StatusBadRequest, "UnsupportedOperationException", "QueryParameters are not supported yet: write the values into the QueryStatement")
	case strings.TrimSpace(req.QueryStatement) == "":
		return nil, invalidParameter("QueryStatement is required")
	case utf8.RuneCountInString(req.QueryStatement) > maxStatement:
		return nil, invalidParameter("QueryStatement is %d characters; at most %d", utf8.RuneCountInString(req.QueryStatement), maxStatement)
	case req.DeliveryS3Uri != "":
		if e := h.checkDeliveryURI(req.DeliveryS3Uri); e != nil {
			return nil, e
		}
	}
	if w := statementStart(req.QueryStatement); w != "SELECT" && w != "WITH" && w != "VALUES" {
		e := errorf(http.StatusBadRequest, "InvalidQueryStatementException", "only SELECT statements are allowed (got %s): event data stores are read-only to SQL", w)
		// Refused here, not by the engine: audited as the engine's refusal would be.
		err := h.opts.Backend.Answer(ctx, req.QueryStatement, func(context.Context) (int, error) { return 0, &server.QueryError{Msg: e.Message} })
		var qe *server.QueryError
		if err != nil && !errors.As(err, &qe) {
			return nil, backendRefusal(err)
		}
		return nil, e
	}
	q := &query{owner: c.principal().Identity(), statement: req.QueryStatement, deliveryURI: req.DeliveryS3Uri, region: c.region}
	h.scanned(c, q)
	if err := h.queries.start(ctx, q); err != nil {
		if errors.Is(err, errTooManyQueries) {
			return nil, errorf(http.StatusTooManyRequests, "MaxConcurrentQueriesException", "%s already has %d queries queued or running; wait for one to finish or cancel one", c.principal().Name(), h.queries.o.MaxActive)
		}
		return nil, errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "%v", err)
	}
	// Lake refuses a statement it cannot run at StartQuery: wait for the engine's verdict, a
	// tenth of StartWait for a query still queued (it cannot fail soon), else StartWait (a
	// loaded machine takes hundreds of milliseconds to open a session and bind a statement;
	// a script must not get a QueryId for a statement that does not compile one time in
	// three).
	short := time.NewTimer(h.queries.o.StartWait / 10)
	long := time.NewTimer(h.queries.o.StartWait)
	defer short.Stop()
	defer long.Stop()
wait:
	for {
		select {
		case <-q.done:
			break wait
		case <-short.C:
			if h.queries.snapshot(q).status == StatusQueued {
				break wait
			}
		case <-long.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	s := h.queries.snapshot(q)
	if s.status == StatusFailed && q.isInvalid(h.queries) {
		h.queries.forgetQuery(q)
		return nil, errorf(http.StatusBadRequest, "InvalidQueryStatementException", "%s", s.errMsg)
	}
	return map[string]string{"QueryId": q.id}, nil
}

func (q *query) isInvalid(m *manager) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return q.invalid
}

// scanned notes the stores q's statement names (for ListQueries) and what scanning them
// reads: their events and Parquet bytes, counted only for stores the principal reads whole
// (a filtered principal must not learn how many rows it does not see).
func (h *Handler) scanned(c *call, q *query) {
	stores, err := h.opts.Lake.Stores()
	if err != nil {
		return
	}
	lower := strings.ToLower(q.statement)
	for _, s := range stores {
		if !names(lower, s) || !visible(c.principal(), s.ID) {
			continue
		}
		q.stores = append(q.stores, s.ID)
		if c.principal().Table("store:"+s.ID) != nil {
			continue
		}
		if m, err := h.opts.Lake.ReadManifest(s.ID); err == nil {
			q.eventsScanned += m.Rows()
			q.bytesScanned += m.Bytes()
		}
	}
}

// storeSchema is the schema the engine's sessions register every store in, by id and by name
// (query.Schema).
const storeSchema = "aws:cloudtrail"

// names says whether a statement (in lower case) names store s: its id anywhere (Lake's
// FROM <id>), or its name as a table of storeSchema ("aws:cloudtrail".name, either quoted), as
// auditlake query takes it. Identifiers are matched without regard to case, as the engine does.
func names(lower string, s lake.Store) bool {
	if strings.Contains(lower, strings.ToLower(s.ID)) {
		return true
	}
	name := regexp.QuoteMeta(strings.ToLower(s.Name))
	re := regexp.MustCompile(`"` + storeSchema + `"\s*\.\s*(?:"` + name + `"|` + name + `(?:[^a-z0-9._-]|$))`)
	return re.MatchString(lower)
}

type queryRef struct {
	EventDataStore  string `json:"EventDataStore"`
	QueryID         string `json:"QueryId"`
	QueryAlias      string `json:"QueryAlias"`
	NextToken       string `json:"NextToken"`
	MaxQueryResults int    `json:"MaxQueryResults"`
}

// findQuery resolves a request's query (and its store, when named).
func (h *Handler) findQuery(c *call, req queryRef) (*query, *Error) {
	if req.EventDataStore != "" {
		if _, e := h.resolveStore(c.principal(), req.EventDataStore); e != nil {
			return nil, e
		}
	}
	if req.QueryID == "" {
		if req.QueryAlias != "" {
			return nil, errorf(http.StatusBadRequest, "UnsupportedOperationException", "QueryAlias: auditlake has no Lake dashboards; give the QueryId")
		}
		return nil, invalidParameter("QueryId is required")
	}
	q := h.queries.get(c.principal().Identity(), req.QueryID)
	if q == nil {
		return nil, errorf(http.StatusBadRequest, "QueryIdNotFoundException", "The query ID %s does not exist or does not map to a query.", req.QueryID)
	}
	return q, nil
}

func elapsedMillis(s snapshot, now time.Time) int64 {
	switch {
	case s.started.IsZero():
		return 0
	case s.finished.IsZero():
		return now.Sub(s.started).Milliseconds()
	}
	return s.finished.Sub(s.started).Milliseconds()
}

type describeStats struct {
	EventsMatched         int64  `json:"EventsMatched"`
	EventsScanned         int64  `json:"EventsScanned"`
	BytesScanned          int64  `json:"BytesScanned"`
	ExecutionTimeInMillis int64  `json:"ExecutionTimeInMillis"`
	CreationTime          *epoch `json:"CreationTime"`
}

type describeQueryResponse struct {
	QueryID         string        `json:"QueryId"`
	QueryString     string        `json:"QueryString"`
	QueryStatus     string        `json:"QueryStatus"`
	QueryStatistics describeStats `json:"QueryStatistics"`
	ErrorMessage    string        `json:"ErrorMessage,omitempty"`
	DeliveryS3Uri   string        `json:"DeliveryS3Uri,omitempty"`
	DeliveryStatus  string        `json:"DeliveryStatus,omitempty"`
}

func (h *Handler) describeQuery(ctx context.Context, c *call) (any, *Error) {
	var req queryRef
	if e := c.decode(&req); e != nil {
		c.record = true
		return nil, e
	}
	q, e := h.findQuery(c, req)
	if e != nil {
		c.record = true
		return nil, e
	}
	if e := h.firstRead(c, q, &q.described); e != nil {
		return nil, e
	}
	c.rows = 1
	s := h.queries.snapshot(q)
	st := describeStats{EventsMatched: int64(s.rowCount), ExecutionTimeInMillis: elapsedMillis(s, h.opts.Now()), CreationTime: epochOf(s.created)}
	if !s.started.IsZero() {
		st.EventsScanned, st.BytesScanned = q.eventsScanned, q.bytesScanned
	}
	return describeQueryResponse{QueryID: q.id, QueryString: q.statement, QueryStatus: s.status, QueryStatistics: st, ErrorMessage: s.errMsg,
		DeliveryS3Uri: q.deliveryURI, DeliveryStatus: s.deliveryStatus}, nil
}

// firstRead marks the call c recorded when it is the first read of query q of its kind (*read:
// q.described or q.resultsRead), after checking that the audit log can take the record (503
// ServiceUnavailableException while it cannot, and the query stays unread). Later reads of the
// same kind — polls, further pages — are not recorded: the caller reads its own query again.
func (h *Handler) firstRead(c *call, q *query, read *bool) *Error {
	h.queries.mu.Lock()
	defer h.queries.mu.Unlock()
	if *read {
		return nil
	}
	if e := h.auditable(); e != nil {
		return e
	}
	*read, c.record = true, true
	return nil
}

type resultStats struct {
	ResultsCount      int   `json:"ResultsCount"`
	TotalResultsCount int   `json:"TotalResultsCount"`
	BytesScanned      int64 `json:"BytesScanned"`
}

type getQueryResultsResponse struct {
	QueryStatus     string                `json:"QueryStatus"`
	QueryStatistics resultStats           `json:"QueryStatistics"`
	QueryResultRows [][]map[string]string `json:"QueryResultRows"`
	NextToken       string                `json:"NextToken,omitempty"`
	ErrorMessage    string                `json:"ErrorMessage,omitempty"`
}

func (h *Handler) getQueryResults(ctx context.Context, c *call) (any, *Error) {
	var req queryRef
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	q, e := h.findQuery(c, req)
	if e != nil {
		c.record = true
		return nil, e
	}
	s := h.queries.snapshot(q)
	out := getQueryResultsResponse{QueryStatus: s.status, ErrorMessage: s.errMsg, QueryResultRows: [][]map[string]string{}}
	if s.status != StatusFinished {
		return out, nil // its status only, as DescribeQuery's: no result is read
	}
	columns, rows, err := h.queries.result(q)
	if err != nil {
		return nil, internal("read query result", err)
	}
	page, next, e := paginate(rows, req.NextToken, req.MaxQueryResults, "results/"+q.id[:8])
	if e != nil {
		if e.Code == "InvalidMaxResultsException" {
			e.Message = strings.Replace(e.Message, "MaxResults", "MaxQueryResults", 1)
		}
		c.record = true
		return nil, e
	}
	if e := h.firstRead(c, q, &q.resultsRead); e != nil {
		return nil, e
	}
	c.rows = len(rows) // the record of the query's read: every row its pages hold
	for _, row := range page {
		r := make([]map[string]string, len(row))
		for i, v := range row {
			r[i] = map[string]string{columns[i]: v}
		}
		out.QueryResultRows = append(out.QueryResultRows, r)
	}
	out.NextToken = next
	out.QueryStatistics = resultStats{ResultsCount: len(page), TotalResultsCount: len(rows), BytesScanned: q.bytesScanned}
	return out, nil
}

func (h *Handler) cancelQuery(ctx context.Context, c *call) (any, *Error) {
	var req queryRef
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	q, e := h.findQuery(c, req)
	if e != nil {
		return nil, e
	}
	if was := h.queries.cancelQuery(q); was != StatusQueued && was != StatusRunning {
		return nil, errorf(http.StatusBadRequest, "InactiveQueryException", "The specified query cannot be canceled because it is in the %s state.", was)
	}
	return map[string]string{"QueryId": q.id, "QueryStatus": StatusCancelled}, nil
}

type listQueriesRequest struct {
	EventDataStore string `json:"EventDataStore"`
	NextToken      string `json:"NextToken"`
	MaxResults     int    `json:"MaxResults"`
	StartTime      *epoch `json:"StartTime"`
	EndTime        *epoch `json:"EndTime"`
	QueryStatus    string `json:"QueryStatus"`
}

type queryItem struct {
	QueryID      string `json:"QueryId"`
	QueryStatus  string `json:"QueryStatus"`
	CreationTime *epoch `json:"CreationTime"`
}

// newestFirst places ListQueries' tokens by the last query listed (its creation time and id),
// not an offset: queries started while a client pages come first in the listing and would
// shift an offset, repeating a query on the next page; a query forgotten meanwhile would skip
// one. A page resumes after that query, or, when it has been forgotten, at the first query
// made before it.
var newestFirst = cursor[queryItem]{
	at: func(items []queryItem, i int) string {
		return strconv.FormatInt(items[i-1].CreationTime.UnixNano(), 10) + "/" + items[i-1].QueryID
	},
	resume: func(items []queryItem, at string) (int, bool) {
		ns, id, _ := strings.Cut(at, "/")
		n, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			return 0, false
		}
		if i := slices.IndexFunc(items, func(q queryItem) bool { return q.QueryID == id }); i >= 0 {
			return i + 1, true
		}
		i := slices.IndexFunc(items, func(q queryItem) bool { return q.CreationTime.UnixNano() < n })
		if i < 0 {
			i = len(items)
		}
		return i, true
	},
}

func (h *Handler) listQueries(ctx context.Context, c *call) (any, *Error) {
	var req listQueriesRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s, e := h.resolveStore(c.principal(), req.EventDataStore)
	if e != nil {
		return nil, e
	}
	switch req.QueryStatus {
	case "", StatusQueued, StatusRunning, StatusFinished, StatusFailed, StatusCancelled, StatusTimedOut:
	default:
		return nil, errorf(http.StatusBadRequest, "InvalidQueryStatusException", "QueryStatus %q is not one of QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, TIMED_OUT", req.QueryStatus)
	}
	if req.StartTime != nil && req.EndTime != nil && req.EndTime.Before(req.StartTime.Time) {
		return nil, errorf(http.StatusBadRequest, "InvalidDateRangeException", "EndTime %s is before StartTime %s", req.EndTime.Format(time.RFC3339), req.StartTime.Format(time.RFC3339))
	}
	var items []queryItem
	for _, q := range h.queries.list(c.principal().Identity(), s.ID) {
		snap := h.queries.snapshot(q)
		if (req.StartTime != nil && snap.created.Before(req.StartTime.Time)) || (req.EndTime != nil && snap.created.After(req.EndTime.Time)) ||
			(req.QueryStatus != "" && snap.status != req.QueryStatus) {
			continue
		}
		items = append(items, queryItem{QueryID: q.id, QueryStatus: snap.status, CreationTime: epochOf(snap.created)})
	}
	page, next, e := paginateBy(items, req.NextToken, req.MaxResults, filteredKind("queries", s.ID, req.StartTime, req.EndTime, req.QueryStatus), newestFirst)
	if e != nil {
		return nil, e
	}
	c.rows = len(page)
	return struct {
		Queries   []queryItem `json:"Queries"`
		NextToken string      `json:"NextToken,omitempty"`
	}{page, next}, nil
}

// filteredKind names a listing with its filters, so that a NextToken is refused with other
// filters than those of the call that gave it (InvalidNextTokenException, as in Lake) rather
// than read as an offset into another listing.
func filteredKind(kind, store string, from, to *epoch, status string) string {
	at := func(t *epoch) string {
		if t == nil {
			return ""
		}
		return strconv.FormatInt(t.UnixNano(), 10)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{store, at(from), at(to), status}, "\x00")))
	return kind + "/" + hex.EncodeToString(sum[:6])
}

// backendRefusal is the AWS error of the backend refusing a request before running it: 503
// ServiceUnavailableException (which the SDKs retry) when it is busy or cannot audit, else an
// internal error.
func backendRefusal(err error) *Error {
	var be *server.BusyError
	if errors.As(err, &be) {
		return errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "%s; retry later", be.Msg)
	}
	return internal("StartQuery", err)
}
