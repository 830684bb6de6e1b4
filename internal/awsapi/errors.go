package awsapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error is a refusal in the AWS JSON shape: Code is the exception name the SDKs match on
// (EventDataStoreNotFoundException, …), sent as __type and in the X-Amzn-ErrorType header.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{status, code, fmt.Sprintf(format, args...)}
}

// invalidParameter is Lake's answer to a request field out of range.
func invalidParameter(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "InvalidParameterException", format, args...)
}

// accessDenied refuses an operation the principal has no privilege for.
func accessDenied(who, op string) *Error {
	return errorf(http.StatusBadRequest, "AccessDeniedException", "User: %s is not authorized to perform: cloudtrail:%s (it needs the manage privilege: auditlake grant manage --to %s)", who, op, who)
}

// writeError answers e. The JSON 1.1 protocol (CloudTrail) reads __type; the REST JSON one
// (CloudTrail Data) reads the header; both read message.
func writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	writeJSON(w, e.Status, map[string]string{"__type": e.Code, "message": e.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"__type":"InternalFailure","message":"internal error; the server log has the details"}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// epoch is a timestamp as AWS JSON sends it: seconds since 1970 (a number, fractions allowed).
type epoch struct{ time.Time }

func (t epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

func (t *epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		sec := int64(f)
		t.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp %s is neither seconds since 1970 nor RFC 3339 text", b)
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q is neither seconds since 1970 nor RFC 3339 text", s)
	}
	t.Time = p.UTC()
	return nil
}

func epochOf(t time.Time) *epoch { return &epoch{t} }
