package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/server"
)

var _ server.AuditEventReceiver = (*Backend)(nil)

// Authorize checks an API token against <data>/tokens.json.
func (b *Backend) Authorize(ctx context.Context, token string) error {
	if _, err := integration.CheckToken(b.lk, token); err != nil {
		if errors.Is(err, integration.ErrUnauthorized) {
			return fmt.Errorf("%w: %v", server.ErrUnauthorized, err)
		}
		return err
	}
	return nil
}

// PutAuditEvents validates one call's events and commits the accepted ones to the channel's
// store before it returns.
func (b *Backend) PutAuditEvents(ctx context.Context, channel, externalID string, entries []json.RawMessage) (*server.PutAuditEventsResult, error) {
	ch, err := integration.ResolveChannel(b.lk, channel)
	if err != nil {
		return nil, callError(err)
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
