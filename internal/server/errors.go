package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is a problem with the request itself; its message is shown to the caller.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

// timeoutError is a query that ran past its timeout.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("query timed out after %s", formatSeconds(e.after))
}

func formatSeconds(d time.Duration) string {
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", d.Seconds()), "0"), ".")
	return s + "s"
}

// statusClientClosed is logged (never seen by anyone) when the client went away mid-request.
const statusClientClosed = 499

// errorBody is the JSON shape of every error response: {"error":{"code","message"}}.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError is the one place that maps errors to HTTP statuses. Messages of request, query,
// not-found and timeout errors are shown to the caller; anything else is logged and answered
// with a generic 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ae  *apiError
		qe  *QueryError
		tl  *ResultTooLargeError
		be  *BusyError
		te  *timeoutError
		mbe *http.MaxBytesError
		de  *DamagedError
	)
	status, code, msg := http.StatusInternalServerError, "internal", "internal error; the server log has the details"
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.status, ae.code, ae.message
		if ae == errUnauthenticated {
			w.Header().Set("WWW-Authenticate", `Bearer realm="auditlake"`)
		}
	case errors.As(err, &mbe):
		status, code, msg = http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)
	case errors.As(err, &te):
		status, code, msg = http.StatusGatewayTimeout, "timeout", te.Error()
	case errors.As(err, &qe):
		status, code, msg = http.StatusBadRequest, "query_error", qe.Msg
	case errors.As(err, &de):
		status, code, msg = http.StatusServiceUnavailable, "store_damaged", de.Msg
	case errors.As(err, &tl):
		status, code, msg = http.StatusUnprocessableEntity, "result_too_large", tl.Msg
	case errors.As(err, &be):
		status, code, msg = be.Status, "busy", be.Msg
		if be.Status == http.StatusTooManyRequests {
			code = "too_many_requests"
		}
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(be.RetryAfter.Round(time.Second)/time.Second))))
	case errors.Is(err, ErrNotFound):
		status, code, msg = http.StatusNotFound, "not_found", err.Error()
	case errors.Is(err, ErrUnauthorized): // the backend found no valid caller in the request
		s.log.Warn("request refused by the backend", "method", r.Method, "path", r.URL.Path, "err", err)
		status, code, msg = http.StatusUnauthorized, "unauthorized", "authentication required"
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		// The client went away; there is nobody to answer.
		s.log.Info("request cancelled by client", "method", r.Method, "path", r.URL.Path)
		w.WriteHeader(statusClientClosed)
		return
	default:
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = code, msg
	writeJSON(w, s.log, status, body)
}

// api adapts a handler that returns an error, enforcing the method (empty: any).
func (s *Server) api(method string, fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if method != "" && r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			s.writeError(w, r, &apiError{http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, method)})
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if ClientFromContext(r.Context()) == "" {
			r = r.WithContext(WithClient(r.Context(), clientOf(r)))
		}
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// clientOf is the client identity of r for per-client limits: the remote host without its port
// (one browser or script opens several connections).
func clientOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, log *slog.Logger, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error; the server log has the details"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
