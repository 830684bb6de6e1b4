package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/server"
)

// putter is a principal that knows put grants (issue 16's channel keys).
type putter interface{ CanPut(resource string) bool }

// mayPut says whether p may put events into ch: its put grant on the channel where principals
// carry put grants, otherwise the manage privilege.
func mayPut(p *access.Principal, ch integration.Channel) bool {
	if pp, ok := any(p).(putter); ok {
		return pp.CanPut("channel:" + ch.ID())
	}
	return p.CanManage()
}

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
	channel := r.URL.Query().Get("channelArn")
	if channel == "" {
		writeError(w, errorf(http.StatusBadRequest, "InvalidChannelARN", "channelArn is required"))
		return
	}
	// Whether a channel exists is said only to a principal that may manage channels.
	ch, err := integration.ResolveChannel(h.opts.Lake, channel)
	if err != nil && c.principal().CanManage() {
		writeError(w, errorf(http.StatusNotFound, "ChannelNotFound", "The channel %s could not be found.", channel))
		return
	}
	if err != nil || !mayPut(c.principal(), ch) {
		writeError(w, errorf(http.StatusForbidden, "ChannelInsufficientPermission", "%s may not put events into channel %s", c.principal().Name(), channel))
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
