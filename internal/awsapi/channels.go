package awsapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
)

// tokenKey authenticates the NextTokens this process gives out (paginate), so that a token cut
// short, edited or made up is refused rather than read as another offset. It is made when the
// process starts: a token does not outlive the server, as a Lake token expires.
var tokenKey = func() []byte {
	b := make([]byte, 32)
	rand.Read(b) // never fails (Go 1.24: it crashes the program instead)
	return b
}()

// tokenMAC is the length of a token's authenticator (a truncated HMAC-SHA256).
const tokenMAC = 16

func tokenSum(payload []byte) []byte {
	m := hmac.New(sha256.New, tokenKey)
	m.Write(payload)
	return m.Sum(nil)[:tokenMAC]
}

// paginate returns the page of items that token (empty: the first) and max (0: 1000) select,
// and the token of the next page ("" after the last). A token names its listing (kind), so one
// listing's token is refused by another, and carries an authenticator (tokenKey). A token is
// an offset into the listing.
func paginate[T any](items []T, token string, max int, kind string) ([]T, string, *Error) {
	return paginateBy(items, token, max, kind, cursor[T]{
		at: func(items []T, i int) string { return strconv.Itoa(i) },
		resume: func(items []T, at string) (int, bool) {
			n, err := strconv.Atoi(at)
			return n, err == nil && n >= 0 && n <= len(items)
		},
	})
}

// byName places tokens in a listing sorted by name (stores, channels) by the name of the last
// item listed: an item made or deleted while a client pages does not shift its next page, which
// resumes at the first name after that one.
func byName[T any](name func(T) string) cursor[T] {
	return cursor[T]{
		at: func(items []T, i int) string { return name(items[i-1]) },
		resume: func(items []T, at string) (int, bool) {
			return sort.Search(len(items), func(i int) bool { return name(items[i]) > at }), true
		},
	}
}

// A cursor places tokens in a listing: at is a token's text for the page that starts at item
// i (i > 0: after items[i-1]), resume the index that text starts at now (false: it names no
// place in items).
type cursor[T any] struct {
	at     func(items []T, i int) string
	resume func(items []T, at string) (int, bool)
}

// paginateBy is paginate with tokens placed by c.
func paginateBy[T any](items []T, token string, max int, kind string, c cursor[T]) ([]T, string, *Error) {
	if max == 0 {
		max = 1000
	}
	if max < 1 || max > 1000 {
		return nil, "", errorf(http.StatusBadRequest, "InvalidMaxResultsException", "MaxResults %d is out of range: 1 to 1000", max)
	}
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) <= tokenMAC || !hmac.Equal(b[len(b)-tokenMAC:], tokenSum(b[:len(b)-tokenMAC])) {
			return nil, "", errorf(http.StatusBadRequest, "InvalidNextTokenException", "NextToken %q is not a token this server gave", token)
		}
		at, ok := strings.CutPrefix(string(b[:len(b)-tokenMAC]), kind+":")
		if ok {
			start, ok = c.resume(items, at)
		}
		if !ok {
			return nil, "", errorf(http.StatusBadRequest, "InvalidNextTokenException", "NextToken %q is not a token of this listing (or the listing changed)", token)
		}
	}
	end := min(start+max, len(items))
	next := ""
	if end < len(items) {
		payload := []byte(kind + ":" + c.at(items, end))
		next = base64.RawURLEncoding.EncodeToString(append(payload, tokenSum(payload)...))
	}
	page := items[start:end]
	if page == nil {
		page = []T{}
	}
	return page, next, nil
}

type destination struct {
	Type     string `json:"Type"`
	Location string `json:"Location"`
}

type channelOut struct {
	ChannelArn   string        `json:"ChannelArn"`
	Name         string        `json:"Name"`
	Source       string        `json:"Source,omitempty"`
	Destinations []destination `json:"Destinations,omitempty"`
	// Tags: CreateChannel's answer only (ListTags lists a channel's tags).
	Tags []tag `json:"Tags,omitempty"`
}

// describeChannel is ch as Lake describes it: its own ARN (with the region it was made for),
// and its store by the ARN GetEventDataStore gives, in the server's region.
func describeChannel(region string, ch integration.Channel) channelOut {
	return channelOut{ChannelArn: ch.ARN, Name: ch.Name, Source: ch.Source,
		Destinations: []destination{{Type: "EVENT_DATA_STORE", Location: storeARN(region, ch.StoreID)}}}
}

// resolveChannel finds a channel by ARN, id or name among those whose store p may see.
func (h *Handler) resolveChannel(c *call, ref string) (integration.Channel, *Error) {
	if ref == "" {
		return integration.Channel{}, invalidParameter("Channel is required")
	}
	if strings.HasPrefix(ref, "arn:") && !strings.Contains(ref, ":channel/") {
		return integration.Channel{}, errorf(http.StatusBadRequest, "ChannelARNInvalidException", "%q is not a channel ARN (arn:aws:cloudtrail:REGION:ACCOUNT:channel/ID)", ref)
	}
	ch, err := integration.ResolveChannel(h.opts.Lake, ref)
	if errors.Is(err, integration.ErrChannelNotFound) || (err == nil && !visible(c.principal(), ch.StoreID)) {
		return ch, errorf(http.StatusBadRequest, "ChannelNotFoundException", "The specified channel %s was not found.", ref)
	}
	if err != nil {
		return ch, internal("resolve channel", err)
	}
	return ch, nil
}

type createChannelRequest struct {
	Name         string        `json:"Name"`
	Source       string        `json:"Source"`
	Destinations []destination `json:"Destinations"`
	Tags         []tag         `json:"Tags"`
}

func (h *Handler) createChannel(ctx context.Context, c *call) (any, *Error) {
	var req createChannelRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if !c.principal().CanManage() {
		return nil, accessDenied(c.principal().Name(), c.op)
	}
	if e := h.auditable(); e != nil {
		return nil, e
	}
	out, e := h.newChannel(c, req)
	h.audit(c, map[string]any{"name": req.Name}, e)
	return out, e
}

func (h *Handler) newChannel(c *call, req createChannelRequest) (any, *Error) {
	if req.Source != "Custom" {
		return nil, errorf(http.StatusBadRequest, "InvalidSourceException", "Source %q: auditlake takes Custom integrations only (no partner sources)", req.Source)
	}
	s, e := h.destinationStore(c, req.Destinations)
	if e != nil {
		return nil, e
	}
	if e := checkTags(req.Tags, true); e != nil {
		return nil, e
	}
	tags, e := addTags(nil, req.Tags)
	if e != nil {
		return nil, e
	}
	if _, err := integration.ResolveChannel(h.opts.Lake, req.Name); err == nil {
		return nil, errorf(http.StatusBadRequest, "ChannelAlreadyExistsException", "A channel named %s already exists.", req.Name)
	}
	region := c.region
	if region == "" {
		region = integration.DefaultRegion
	}
	ch, err := integration.CreateChannel(h.opts.Lake, req.Name, s.ID, integration.ChannelOptions{Region: region, Account: Account})
	if err != nil {
		return nil, invalidParameter("%v", err)
	}
	if len(tags) > 0 {
		if ch, err = integration.UpdateChannel(h.opts.Lake, ch.ARN, func(ch *integration.Channel) error { ch.Tags = tags; return nil }); err != nil {
			return nil, internal("set channel tags", err)
		}
	}
	out := describeChannel(c.region, ch)
	if len(ch.Tags) > 0 {
		out.Tags = tagsList(ch.Tags)
	}
	return out, nil
}

// destinationStore is the store a channel's Destinations name: one activity store the caller
// may see.
func (h *Handler) destinationStore(c *call, dests []destination) (lake.Store, *Error) {
	if len(dests) != 1 || dests[0].Type != "EVENT_DATA_STORE" {
		return lake.Store{}, invalidParameter("Destinations: an auditlake channel feeds exactly one destination of Type EVENT_DATA_STORE")
	}
	s, e := h.resolveStore(c.principal(), dests[0].Location)
	if e != nil {
		return s, e
	}
	if s.Type != lake.TypeActivity {
		return s, errorf(http.StatusBadRequest, "InvalidEventDataStoreCategoryException",
			"event data store %s holds %s events; a channel feeds a store created with eventCategory ActivityAuditLog", s.Name, s.Type)
	}
	return s, nil
}

type channelRef struct {
	Channel string `json:"Channel"`
}

func (h *Handler) getChannel(ctx context.Context, c *call) (any, *Error) {
	var req channelRef
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	ch, e := h.resolveChannel(c, req.Channel)
	if e != nil {
		return nil, e
	}
	c.rows = 1
	return describeChannel(c.region, ch), nil
}

func (h *Handler) listChannels(ctx context.Context, c *call) (any, *Error) {
	var req pageRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	chs, err := integration.Channels(h.opts.Lake)
	if err != nil {
		return nil, internal("list channels", err)
	}
	var all []channelOut
	for _, ch := range chs {
		if visible(c.principal(), ch.StoreID) {
			all = append(all, channelOut{ChannelArn: ch.ARN, Name: ch.Name})
		}
	}
	page, next, e := paginateBy(all, req.NextToken, req.MaxResults, "channels", byName(func(c channelOut) string { return c.Name }))
	if e != nil {
		return nil, e
	}
	c.rows = len(page)
	return struct {
		Channels  []channelOut `json:"Channels"`
		NextToken string       `json:"NextToken,omitempty"`
	}{page, next}, nil
}

// channelToChange resolves the channel a change names (not found: as for a read) and checks
// that the caller may manage channels and that the audit log can record the change.
func (h *Handler) channelToChange(c *call, ref string) (integration.Channel, *Error) {
	ch, e := h.resolveChannel(c, ref)
	if e != nil {
		return ch, e
	}
	if !c.principal().CanManage() {
		return ch, accessDenied(c.principal().Name(), c.op)
	}
	return ch, h.auditable()
}

type updateChannelRequest struct {
	Channel      string        `json:"Channel"`
	Name         string        `json:"Name"`
	Destinations []destination `json:"Destinations"`
}

// updateChannel renames a channel or points it at another activity store; its ARN, and so its
// senders' put grants, stay.
func (h *Handler) updateChannel(ctx context.Context, c *call) (any, *Error) {
	var req updateChannelRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	ch, e := h.channelToChange(c, req.Channel)
	if e != nil {
		return nil, e
	}
	out, e := h.changeChannel(c, ch, req)
	h.audit(c, map[string]any{"channel": ch.ARN, "name": req.Name}, e)
	return out, e
}

func (h *Handler) changeChannel(c *call, ch integration.Channel, req updateChannelRequest) (any, *Error) {
	storeID := ch.StoreID
	if req.Destinations != nil {
		s, e := h.destinationStore(c, req.Destinations)
		if e != nil {
			return nil, e
		}
		storeID = s.ID
	}
	if req.Name != "" && req.Name != ch.Name {
		if _, err := integration.ResolveChannel(h.opts.Lake, req.Name); err == nil {
			return nil, errorf(http.StatusBadRequest, "ChannelAlreadyExistsException", "A channel named %s already exists.", req.Name)
		}
	}
	ch, err := integration.UpdateChannel(h.opts.Lake, ch.ARN, func(u *integration.Channel) error {
		if req.Name != "" {
			u.Name = req.Name
		}
		u.StoreID = storeID
		return nil
	})
	switch {
	case errors.Is(err, integration.ErrChannelNotFound):
		return nil, errorf(http.StatusBadRequest, "ChannelNotFoundException", "The specified channel %s was not found.", req.Channel)
	case err != nil:
		return nil, invalidParameter("%v", err)
	}
	return describeChannel(c.region, ch), nil
}

func (h *Handler) deleteChannel(ctx context.Context, c *call) (any, *Error) {
	var req channelRef
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	ch, e := h.channelToChange(c, req.Channel)
	if e != nil {
		return nil, e
	}
	_, err := integration.DeleteChannel(h.opts.Lake, ch.ARN)
	if err != nil {
		e = internal("delete channel", err)
		if errors.Is(err, integration.ErrChannelNotFound) {
			e = errorf(http.StatusBadRequest, "ChannelNotFoundException", "The specified channel %s was not found.", req.Channel)
		}
	} else if _, err := access.Open(h.opts.Lake.Dir).RevokeOn("channel:" + ch.ID()); err != nil {
		// As auditlake channel delete: the put grants on the channel go with it.
		e = internal("delete channel", fmt.Errorf("deleted channel %s, but not the put grants on it: %w", ch.Name, err))
	}
	h.audit(c, map[string]any{"channel": ch.ARN}, e)
	if e != nil {
		return nil, e
	}
	return struct{}{}, nil
}
