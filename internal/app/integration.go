package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

var _ server.AuditEventReceiver = (*Backend)(nil)

// Authenticate returns ctx with its caller: the one a door put there, or the principal of the
// access key in authorization ("Bearer KEYID:SECRET", the key a channel's sender was given by
// token create), as the channel door.
func (b *Backend) Authenticate(ctx context.Context, authorization, userAgent string) (context.Context, error) {
	if _, ok := access.CallerFrom(ctx); ok {
		return ctx, nil
	}
	cred, ok := strings.CutPrefix(authorization, "Bearer ")
	id, secret, ok2 := strings.Cut(strings.TrimSpace(cred), ":")
	if !ok || !ok2 {
		return ctx, server.ErrUnauthorized
	}
	p, err := b.access.Authenticate(id, secret)
	if errors.Is(err, access.ErrUnauthenticated) {
		return ctx, server.ErrUnauthorized
	}
	if err != nil {
		return ctx, err
	}
	return access.WithCaller(ctx, access.Caller{Principal: p, KeyID: id, Door: access.DoorChannel,
		SourceIP: server.ClientFromContext(ctx), UserAgent: userAgent}), nil
}

// errPutDenied is the one answer to a caller that may not put into the channel it names,
// whether the channel exists or not (its existence does not leak).
var errPutDenied = &server.CallError{Status: http.StatusForbidden, Code: "AccessDeniedException",
	Message: "access denied: the access key has no put grant on this channel"}

// PutAuditEvents checks the caller's put grant on the channel, validates one call's events and
// commits the accepted ones to the channel's store before it returns.
func (b *Backend) PutAuditEvents(ctx context.Context, channel, externalID string, entries []json.RawMessage) (*server.PutAuditEventsResult, error) {
	c, err := b.caller(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := integration.ResolveChannel(b.lk, channel)
	if err != nil {
		if !c.Principal.Admin && errors.Is(err, integration.ErrChannelNotFound) {
			return nil, errPutDenied
		}
		return nil, callError(err)
	}
	if !c.Principal.CanPut("channel:" + ch.ID()) {
		return nil, errPutDenied
	}
	events := make([]integration.AuditEvent, len(entries))
	for i, raw := range entries {
		if err := json.Unmarshal(raw, &events[i]); err != nil {
			return nil, &server.CallError{Status: http.StatusBadRequest, Code: "ValidationException",
				Message: fmt.Sprintf("auditEvents[%d] is not an {id, eventData, eventDataChecksum} object", i)}
		}
	}
	res, err := integration.Put(ctx, b.lk, ch, externalID, events, integration.Options{})
	if err != nil {
		return nil, callError(err)
	}
	out := &server.PutAuditEventsResult{}
	for _, s := range res.Successful {
		out.Successful = append(out.Successful, server.AuditEventSuccess{ID: s.ID, EventID: s.EventID, Warning: s.Warning})
	}
	for _, f := range res.Failed {
		out.Failed = append(out.Failed, server.AuditEventFailure{ID: f.ID, ErrorCode: f.ErrorCode, ErrorMessage: f.ErrorMessage})
	}
	return out, nil
}

// callError maps integration's call-level errors to the API's, with the AWS exception names.
func callError(err error) error {
	ce := func(status int, code string) error {
		return &server.CallError{Status: status, Code: code, Message: err.Error()}
	}
	switch {
	case errors.Is(err, integration.ErrChannelNotFound):
		return ce(http.StatusNotFound, "ChannelNotFound")
	case errors.Is(err, lake.ErrNotFound):
		return ce(http.StatusNotFound, "ChannelNotFound")
	case errors.Is(err, integration.ErrTooManyEvents):
		return ce(http.StatusRequestEntityTooLarge, "too_many_events")
	case errors.Is(err, integration.ErrNoEvents):
		return ce(http.StatusBadRequest, "ValidationException")
	case errors.Is(err, integration.ErrDuplicatedEventID):
		return ce(http.StatusBadRequest, "DuplicatedAuditEventId")
	case errors.Is(err, integration.ErrExternalID):
		return ce(http.StatusForbidden, "ChannelInsufficientPermission")
	case errors.Is(err, lake.ErrDamaged):
		// The channel's store cannot be written until it is repaired; nothing was accepted.
		return ce(http.StatusServiceUnavailable, "ServiceUnavailableException")
	}
	return err
}
