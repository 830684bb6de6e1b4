package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/auditlake/auditlake/internal/server"
)

// maxAuditEvents is PutAuditEvents' limit per call (the 1 MB limit is MaxBodyBytes).
const maxAuditEvents = 100

// putAuditEvents answers CloudTrail Data's PutAuditEvents (REST JSON: POST
// /PutAuditEvents?channelArn=…&externalId=…, signed for cloudtrail-data) through the same
// receiver as the bearer-token endpoint: the backend validates, wraps and commits the events.
func (h *Handler) putAuditEvents(ctx context.Context, w http.ResponseWriter, r *http.Request, c *call) {
	c.op = "PutAuditEvents"
	recv, ok := h.opts.Backend.(server.AuditEventReceiver)
	if !ok {
		writeError(w, errorf(http.StatusBadRequest, "UnsupportedOperationException", "this server does not accept audit events"))
		return
	}
	// Putting events changes a store: until channel keys carry a grant to put into their
	// channel, it takes the manage privilege.
	if !c.principal().CanManage() {
		writeError(w, errorf(http.StatusForbidden, "ChannelInsufficientPermission", "%s may not put events into channels (it needs the manage privilege)", c.principal().Name()))
		return
	}
	channel := r.URL.Query().Get("channelArn")
	if channel == "" {
		writeError(w, errorf(http.StatusBadRequest, "InvalidChannelARN", "channelArn is required"))
		return
	}
	var req struct {
		AuditEvents []json.RawMessage `json:"auditEvents"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "ValidationException", "request body is not a PutAuditEvents request {\"auditEvents\":[…]}: %v", err))
		return
	}
	if n := len(req.AuditEvents); n == 0 || n > maxAuditEvents {
		writeError(w, errorf(http.StatusBadRequest, "ValidationException", "auditEvents holds %d events; send 1 to %d", n, maxAuditEvents))
		return
	}
	res, err := recv.PutAuditEvents(ctx, channel, r.URL.Query().Get("externalId"), req.AuditEvents)
	if err != nil {
		var ce *server.CallError
		if errors.As(err, &ce) {
			writeError(w, &Error{ce.Status, ce.Code, ce.Message})
			return
		}
		h.opts.Log.Error("put audit events", "channel", channel, "err", err)
		writeError(w, errorf(http.StatusInternalServerError, "InternalFailure", "internal error; the server log has the details"))
		return
	}
	if res.Successful == nil {
		res.Successful = []server.AuditEventSuccess{}
	}
	if res.Failed == nil {
		res.Failed = []server.AuditEventFailure{}
	}
	writeJSON(w, http.StatusOK, res)
}
