package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// AuditEventReceiver is what a Backend implements to accept external audit events on the
// PutAuditEvents-compatible endpoints (docs/api.md, "External audit events"). The server has the
// caller authenticated (Authenticate) and checks the body size and the event count; the
// receiver checks the caller's put grant on the channel, decodes and validates each entry and
// commits the accepted events before it returns, so they are queryable at once.
type AuditEventReceiver interface {
	// Authenticate returns ctx carrying the authenticated caller: the one a door already put
	// in ctx, or the principal of the access key in authorization ("Bearer KEYID:SECRET"). It
	// returns ErrUnauthorized (possibly wrapped) for missing or invalid credentials, whatever
	// is wrong with them.
	Authenticate(ctx context.Context, authorization, userAgent string) (context.Context, error)
	// PutAuditEvents ingests the entries of one call (each the raw JSON of one
	// {id, eventData, eventDataChecksum} object) into channel (ARN, ARN suffix or name) for the
	// caller in ctx. A problem with the call as a whole, a caller without the put grant on the
	// channel included, is a *CallError.
	PutAuditEvents(ctx context.Context, channel, externalID string, entries []json.RawMessage) (*PutAuditEventsResult, error)
}

// PutAuditEventsResult is the answer to a call: one entry per event.
type PutAuditEventsResult struct {
	Successful []AuditEventSuccess `json:"successful"`
	Failed     []AuditEventFailure `json:"failed"`
}

// AuditEventSuccess is an accepted event. Warning (auditlake's addition, absent when empty)
// says what was changed to store it, such as invalid characters stored as U+FFFD.
type AuditEventSuccess struct {
	ID      string `json:"id"`
	EventID string `json:"eventID"`
	Warning string `json:"warning,omitempty"`
}

// AuditEventFailure is a rejected event with an AWS error code.
type AuditEventFailure struct {
	ID           string `json:"id"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// CallError refuses a whole PutAuditEvents call; Code (an AWS exception name such as
// ChannelNotFound) and Message are shown to the caller with Status.
type CallError struct {
	Status        int
	Code, Message string
}

func (e *CallError) Error() string { return e.Message }

// ErrUnauthorized is returned for a request without valid credentials (a missing, unknown,
// wrong, disabled or expired access key); the API answers 401 with one generic message.
var ErrUnauthorized = errors.New("invalid or missing credentials")

// Limits of one PutAuditEvents call.
const (
	maxAuditEvents    = 100
	maxAuditCallBytes = 1 << 20
)

// putAuditEvents serves POST /PutAuditEvents?channelArn=…&externalId=…, the path and query of
// the CloudTrail Data API.
func (s *Server) putAuditEvents(w http.ResponseWriter, r *http.Request) error {
	return s.receiveAuditEvents(w, r, r.URL.Query().Get("channelArn"))
}

// putChannelEvents serves POST /api/channels/{channel}/events; the channel is an ARN (its
// slashes escaped or not), an ARN suffix or a name.
func (s *Server) putChannelEvents(w http.ResponseWriter, r *http.Request) error {
	channel, ok := strings.CutSuffix(r.PathValue("rest"), "/events")
	if !ok || channel == "" {
		return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no API endpoint %s; use /api/channels/{channel}/events", r.URL.Path)}
	}
	return s.receiveAuditEvents(w, r, channel)
}

func (s *Server) receiveAuditEvents(w http.ResponseWriter, r *http.Request, channel string) error {
	recv, ok := s.backend.(AuditEventReceiver)
	if !ok {
		return &apiError{http.StatusNotImplemented, "not_implemented", "this server does not accept audit events"}
	}
	ctx, err := s.channelAuth(r, recv)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="auditlake"`)
			return &apiError{http.StatusUnauthorized, "unauthorized", "invalid or missing credentials: send Authorization: Bearer ACCESS_KEY_ID:SECRET (auditlake token create --channel CHANNEL)"}
		}
		return fmt.Errorf("authenticate: %w", err)
	}
	r = r.WithContext(ctx)
	if channel == "" {
		return &apiError{http.StatusBadRequest, "InvalidChannelARN", "channelArn is required"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAuditCallBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("a PutAuditEvents call is at most 1 MB (%d bytes of request body); send fewer events per call", maxAuditCallBytes)}
		}
		return badRequest("read request body: %v", err)
	}
	var req struct {
		AuditEvents []json.RawMessage `json:"auditEvents"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("request body is not a PutAuditEvents request {\"auditEvents\":[…]}: %v", err)
	}
	switch n := len(req.AuditEvents); {
	case n == 0:
		return badRequest("auditEvents is empty; send 1 to %d events", maxAuditEvents)
	case n > maxAuditEvents:
		return &apiError{http.StatusRequestEntityTooLarge, "too_many_events",
			fmt.Sprintf("a PutAuditEvents call holds at most %d events, got %d", maxAuditEvents, n)}
	}
	res, err := recv.PutAuditEvents(r.Context(), channel, r.URL.Query().Get("externalId"), req.AuditEvents)
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) {
			return &apiError{ce.Status, ce.Code, ce.Message}
		}
		return fmt.Errorf("put audit events: %w", err)
	}
	if res.Successful == nil {
		res.Successful = []AuditEventSuccess{}
	}
	if res.Failed == nil {
		res.Failed = []AuditEventFailure{}
	}
	writeJSON(w, s.log, http.StatusOK, res)
	return nil
}
