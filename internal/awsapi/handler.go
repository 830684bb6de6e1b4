// Package awsapi answers the CloudTrail Lake API on auditlake's serve port, so the AWS CLI, boto3
// and the SDKs work with --endpoint-url: AWS JSON 1.1 (POST / with X-Amz-Target:
// CloudTrail_20131101.<Operation>) for event data stores, queries and channels, and the REST
// JSON PutAuditEvents of CloudTrail Data (POST /PutAuditEvents).
//
// Every request is signed with Signature Version 4 by an auditlake access key and verified here
// (sigv4.go): the key's principal is put in the request's context as an access.Caller (door
// "aws"), so queries run through the server's Backend exactly as the JSON API's do — restricted
// to the principal's grants and recorded in the audit log. Store and channel changes need the
// manage privilege. Queries run asynchronously under a query manager (queries.go) with Lake's
// states; their results are kept seven days, in memory and on disk, bounded in bytes (results.go).
//
// The differences from CloudTrail Lake are listed in docs/aws-api.md.
package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

// Service names a request is signed for.
const (
	ServiceLake = "cloudtrail"      // the CloudTrail API (stores, queries, channels)
	ServiceData = "cloudtrail-data" // PutAuditEvents
)

// TargetPrefix is the X-Amz-Target prefix of every operation (the SDKs send it with the longer
// com.amazonaws.cloudtrail.v20131101. before it, which is accepted too).
const TargetPrefix = "CloudTrail_20131101."

// DefaultRegion is the region the API answers for when Options.Region is empty: the one the
// docs and serve's examples sign with (aws --region us-east-1).
const DefaultRegion = "us-east-1"

// Account stands for the lake in the ARNs of event data stores and of the channels made
// through this API (the account their events' recipientAccountId names), and in the path of
// query result deliveries: a lake is not an AWS account.
const Account = "000000000000"

// Options configure the API. Backend, Lake and Keys are required; zero limits take the
// defaults documented on them.
type Options struct {
	Backend server.Backend
	Lake    *lake.Lake
	Keys    KeySource
	Log     *slog.Logger
	// Region is the region requests must be signed for (their credential scope's), as an AWS
	// endpoint answers for one region; it names the region in ARNs. Default DefaultRegion
	// (serve --api-region).
	Region string
	// Audit records store and channel changes (nil: not recorded). Queries are recorded by the
	// Backend, as for every door.
	Audit *auditlog.Log
	// MaxBodyBytes caps a request body (413 past it). Default 1 MiB, PutAuditEvents' limit.
	MaxBodyBytes int64
	// Queries bound the query manager.
	Queries QueryOptions
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Delivery writes StartQuery's DeliveryS3Uri results and answers ListPublicKeys; without a
	// Signer a DeliveryS3Uri is refused and ListPublicKeys lists no key.
	Delivery DeliveryOptions
	// Failures limits failed signatures per access key id and per client address, shared with
	// the process's other doors (nil: no limit): a key id or an address over the limit is
	// refused (ThrottlingException, 429) before its signature is looked at.
	Failures FailureLimit
}

// FailureLimit is a failed-authentication limit (*server.FailureLimiter is one).
type FailureLimit interface {
	RetryAfter(keyID, addr string) time.Duration
	Fail(door, keyID, addr string)
}

// Handler is the CloudTrail Lake API as an http.Handler.
type Handler struct {
	opts    Options
	queries *manager
}

// New returns the API. Close stops its queries.
func New(o Options) *Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	h := &Handler{opts: o, queries: newManager(o.Backend, o.Queries, o.Now, o.Log)}
	h.queries.deliver = h.deliver
	return h
}

// Close cancels the queries still running and forgets every result.
func (h *Handler) Close() error {
	h.queries.close()
	return nil
}

// call is one authenticated operation.
type call struct {
	op     string
	caller access.Caller
	region string
	body   []byte
	// record: the call is recorded in the audit log as a read (readOps; DescribeQuery and
	// GetQueryResults set it themselves), with rows, what it returned.
	record bool
	rows   int
	// audited: the change recorded itself (Handler.audit).
	audited bool
}

func (c *call) principal() *access.Principal { return c.caller.Principal }

// decode reads the request body into v; an empty body is an empty request.
func (c *call) decode(v any) *Error {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errorf(http.StatusBadRequest, "SerializationException", "%s request body is not valid: %v", c.op, err)
	}
	return nil
}

type operation func(ctx context.Context, c *call) (any, *Error)

func (h *Handler) operations() map[string]operation {
	return map[string]operation{
		"CreateEventDataStore":         h.createEventDataStore,
		"GetEventDataStore":            h.getEventDataStore,
		"ListEventDataStores":          h.listEventDataStores,
		"UpdateEventDataStore":         h.updateEventDataStore,
		"DeleteEventDataStore":         h.deleteEventDataStore,
		"RestoreEventDataStore":        h.storeLifecycle,
		"StartEventDataStoreIngestion": h.storeLifecycle,
		"StopEventDataStoreIngestion":  h.storeLifecycle,
		"StartQuery":                   h.startQuery,
		"DescribeQuery":                h.describeQuery,
		"GetQueryResults":              h.getQueryResults,
		"CancelQuery":                  h.cancelQuery,
		"ListQueries":                  h.listQueries,
		"CreateChannel":                h.createChannel,
		"GetChannel":                   h.getChannel,
		"ListChannels":                 h.listChannels,
		"UpdateChannel":                h.updateChannel,
		"DeleteChannel":                h.deleteChannel,
		"ListPublicKeys":               h.listPublicKeys,
		"AddTags":                      h.addTagsOp,
		"RemoveTags":                   h.removeTagsOp,
		"ListTags":                     h.listTags,
	}
}

// ServeHTTP answers POST / (an operation named by X-Amz-Target) and POST /PutAuditEvents.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", lake.NewUUID())
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, errorf(http.StatusMethodNotAllowed, "UnsupportedOperationException", "%s %s is not allowed: the CloudTrail Lake API takes POST", r.Method, r.URL.Path))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body is larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, errorf(http.StatusBadRequest, "SerializationException", "read request body: %v", err))
		return
	}
	service := ServiceLake
	if r.URL.Path == "/PutAuditEvents" {
		service = ServiceData
	}
	v, e := h.verify(w, r, body, service)
	if e != nil {
		if e.Status >= 500 {
			h.opts.Log.Error("verify signature", "err", e)
		}
		writeError(w, e)
		return
	}
	c := &call{region: v.region, body: body, caller: access.Caller{Principal: v.principal, KeyID: v.keyID,
		Door: access.DoorAWS, SourceIP: hostOf(r.RemoteAddr), UserAgent: r.UserAgent()}}
	ctx := access.WithCaller(r.Context(), c.caller)
	ctx = server.WithClient(ctx, c.caller.Principal.Name())
	if service == ServiceData {
		h.putAuditEvents(ctx, w, r, c)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if i := strings.Index(target, TargetPrefix); i >= 0 {
		c.op = target[i+len(TargetPrefix):]
	}
	op, ok := h.operations()[c.op]
	if !ok {
		msg := fmt.Sprintf("X-Amz-Target %q is not an operation auditlake answers (docs/aws-api.md lists them)", target)
		if instead := unanswered(c.op); instead != "" {
			msg = c.op + " is not an operation auditlake answers: " + instead
		}
		writeError(w, errorf(http.StatusBadRequest, "UnknownOperationException", "%s", msg))
		return
	}
	start := time.Now()
	if readOps[c.op] {
		if e := h.auditable(); e != nil {
			writeError(w, e)
			return
		}
		c.record = true
	}
	out, e := op(ctx, c)
	if c.record || refusedChange(c, e) {
		h.auditCall(c, time.Since(start), e)
	}
	if e != nil {
		if e.Status >= 500 {
			h.opts.Log.Error("aws api", "operation", c.op, "err", e.Message)
			e = &Error{e.Status, e.Code, "internal error; the server log has the details"}
		}
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// unanswered says, for a CloudTrail operation auditlake does not answer, what does its work
// here ("" for any other name): a script's author reads it in the CLI's error.
func unanswered(op string) string {
	switch op {
	case "LookupEvents":
		return "query a CloudTrail store's event history with StartQuery instead, e.g. SELECT eventtime, eventname, useridentity.arn FROM <store id> WHERE eventname = 'ConsoleLogin' ORDER BY eventtime DESC"
	case "CreateTrail", "UpdateTrail", "DeleteTrail", "GetTrail", "DescribeTrails", "ListTrails", "GetTrailStatus", "StartLogging", "StopLogging",
		"GetEventSelectors", "PutEventSelectors", "GetInsightSelectors", "PutInsightSelectors", "ListInsightsData", "ListInsightsMetricData":
		return "auditlake has no trails; it ingests the files trails deliver (auditlake ingest cloudtrail, auditlake source add), and an event data store's selectors are its AdvancedEventSelectors (GetEventDataStore, UpdateEventDataStore)"
	case "CreateDashboard", "UpdateDashboard", "DeleteDashboard", "GetDashboard", "ListDashboards", "StartDashboardRefresh":
		return "auditlake has no Lake dashboards; its web dashboard is served on this port (auditlake serve --login-link USER)"
	case "StartImport", "StopImport", "GetImport", "ListImports", "ListImportFailures":
		return "import trail files with auditlake ingest cloudtrail, and a Lake export with auditlake ingest lake-export"
	case "EnableFederation", "DisableFederation":
		return "auditlake publishes its stores as Iceberg tables instead (auditlake catalog set)"
	case "GetResourcePolicy", "PutResourcePolicy", "DeleteResourcePolicy", "RegisterOrganizationDelegatedAdmin", "DeregisterOrganizationDelegatedAdmin":
		return "auditlake's access is its users and grants (auditlake grant select|put|manage), not resource policies or Organizations"
	case "GenerateQuery", "SearchSampleQueries":
		return "write the QueryStatement yourself (docs/sql-dialect.md)"
	}
	return ""
}

// verify checks the request's signature within the failure limits: a key id or an address
// with too many recent failures is refused before its signature is looked at, and a refused
// signature (an unknown, disabled or expired key, a wrong signature, a malformed one) counts
// against the key id it names and the client's address. A request without a signature is no
// guess and does not count.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, body []byte, service string) (*verified, *Error) {
	addr := hostOf(r.RemoteAddr)
	var keyID string
	if sr, e := parseAuthorization(r.Header.Get("Authorization")); e == nil {
		keyID = sr.keyID
	}
	if h.opts.Failures != nil {
		if wait := h.opts.Failures.RetryAfter(keyID, addr); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second).Seconds())))
			return nil, errorf(http.StatusTooManyRequests, "ThrottlingException", "too many failed authentications; try again in %s", wait.Round(time.Second))
		}
	}
	v, e := verify(r, body, h.opts.Keys, h.opts.Now(), h.opts.Region, service)
	if e != nil && e.Status < 500 && e.Code != "MissingAuthenticationTokenException" && h.opts.Failures != nil {
		h.opts.Failures.Fail(access.DoorAWS, keyID, addr)
		h.opts.Log.Info("signature refused", "access_key_id", keyID, "remote", addr, "err", e.Code)
	}
	return v, e
}

// internal logs err and answers a generic 500.
func internal(op string, err error) *Error {
	return &Error{http.StatusInternalServerError, "InternalFailure", fmt.Sprintf("%s: %v", op, err)}
}

func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// auditable refuses an administrative change with 503 (ServiceUnavailableException, which the
// SDKs retry) while the audit log holds as many uncommitted entries as it may
// (auditlog.Log.Check): the change is not made, as a query is not run, rather than made
// unaudited. Each change calls it once the caller may make it, before it makes it.
func (h *Handler) auditable() *Error {
	if err := h.opts.Audit.Check(); err != nil {
		return errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "%v; retry later", err)
	}
	return nil
}

// readOps are the operations that read the catalog (stores, channels, the caller's queries, the
// digest keys) without changing anything. Every call of one is recorded in the audit log, as
// the JSON API's and the Postgres door's listings are (internal/app Backend.Stores, Tables), with
// the parameters it was given and how many items it returned, also when it fails (a probe for
// a store that is not found is recorded), and it is refused with 503 while the audit log cannot
// take more, before it reads. Each page of a paginated listing is a call and a record.
// DescribeQuery and GetQueryResults read one query of the caller's own, which StartQuery
// recorded: they record their first successful read of each query (the first page of results
// read, whichever it is: NextToken is an offset) and every failed call, not each poll or page.
var readOps = map[string]bool{"GetEventDataStore": true, "ListEventDataStores": true, "ListQueries": true,
	"GetChannel": true, "ListChannels": true, "ListPublicKeys": true, "ListTags": true}

// changeOps are the operations that change something (a store, a channel, a query's state).
// Each records the change it made (Handler.audit; CancelQuery by its query's own StartQuery
// outcome); one refused before that — no manage privilege, a store, channel or query not found,
// a bad parameter — is recorded with its error by ServeHTTP, as a failed read is: an attempt to
// change what the caller may not leaves a trace. A refusal while the audit log is full (503) is
// not recorded: nothing more is taken then.
var changeOps = map[string]bool{"CreateEventDataStore": true, "UpdateEventDataStore": true, "DeleteEventDataStore": true,
	"CreateChannel": true, "UpdateChannel": true, "DeleteChannel": true, "CancelQuery": true, "AddTags": true, "RemoveTags": true,
	"RestoreEventDataStore": true, "StartEventDataStoreIngestion": true, "StopEventDataStoreIngestion": true}

// refusedChange says whether c is a change refused with e before it recorded itself.
func refusedChange(c *call, e *Error) bool {
	return e != nil && changeOps[c.op] && !c.audited && e.Code != "ServiceUnavailableException"
}

// auditedParams are the request parameters a call's audit record keeps (what it asked for).
var auditedParams = []string{"EventDataStore", "Channel", "ResourceId", "ResourceIdList", "Name", "QueryId", "NextToken", "MaxResults", "MaxQueryResults", "QueryStatus", "StartTime", "EndTime"}

// auditCall records a read through this door that took d and returned c.rows items (or e), or
// a change refused with e.
func (h *Handler) auditCall(c *call, d time.Duration, e *Error) {
	var req map[string]any
	_ = json.Unmarshal(c.body, &req) // a body that does not decode is recorded without parameters
	params := map[string]any{}
	for _, k := range auditedParams {
		v, ok := req[k]
		if !ok {
			continue
		}
		if s, isStr := v.(string); isStr && len(s) > 256 { // a record holds what was asked, not a hostile body
			v = s[:256] + "…"
		}
		params[strings.ToLower(k[:1])+k[1:]] = v
	}
	entry := auditlog.Entry{Principal: c.principal().Name(), KeyID: c.caller.KeyID, Door: access.DoorAWS, Action: c.op,
		Params: params, Rows: int64(c.rows), Duration: d, SourceIP: c.caller.SourceIP, UserAgent: c.caller.UserAgent}
	if len(params) == 0 {
		entry.Params = nil
	}
	if e != nil {
		entry.Rows, entry.ErrorCode, entry.ErrorMessage = 0, e.Code, e.Message
	}
	h.opts.Audit.Record(entry)
}

// audit records an administrative change made through this door.
func (h *Handler) audit(c *call, params map[string]any, e *Error) {
	c.audited = true
	entry := auditlog.Entry{Principal: c.principal().Name(), KeyID: c.caller.KeyID, Door: access.DoorAWS,
		Action: c.op, Params: params, SourceIP: c.caller.SourceIP, UserAgent: c.caller.UserAgent}
	if e != nil {
		entry.ErrorCode, entry.ErrorMessage = e.Code, e.Message
	}
	h.opts.Audit.Record(entry)
}
