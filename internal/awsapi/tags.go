package awsapi

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
)

// tag is one of Lake's resource tags.
type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// maxTags is how many tags a resource may carry, as in CloudTrail.
const maxTags = 50

// tagChars are the characters AWS allows in tag keys and values.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// checkTags validates a request's TagsList: keys of 1–128 characters, values of at most 256,
// none under the reserved prefix aws:, no key twice. withValues: the values are checked too
// (RemoveTags names keys only).
func checkTags(tags []tag, withValues bool) *Error {
	seen := map[string]bool{}
	for _, t := range tags {
		switch n := utf8.RuneCountInString(t.Key); {
		case n < 1 || n > 128 || !tagChars.MatchString(t.Key):
			return errorf(http.StatusBadRequest, "InvalidTagParameterException", "tag key %q: want 1 to 128 letters, digits, spaces or _ . : / = + - @", t.Key)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return errorf(http.StatusBadRequest, "InvalidTagParameterException", "tag key %q: the prefix aws: is reserved", t.Key)
		case seen[t.Key]:
			return errorf(http.StatusBadRequest, "InvalidTagParameterException", "tag key %q is given twice", t.Key)
		case withValues && (utf8.RuneCountInString(t.Value) > 256 || !tagChars.MatchString(t.Value)):
			return errorf(http.StatusBadRequest, "InvalidTagParameterException", "tag %q's value: want at most 256 letters, digits, spaces or _ . : / = + - @", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// addTags sets tags on a resource's tag map (nil: none yet), which may then hold maxTags.
func addTags(m map[string]string, tags []tag) (map[string]string, *Error) {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	for _, t := range tags {
		out[t.Key] = t.Value
	}
	if len(out) > maxTags {
		return nil, errorf(http.StatusBadRequest, "TagsLimitExceededException", "a resource carries at most %d tags; this would make %d", maxTags, len(out))
	}
	return out, nil
}

// removeTags takes the keys of tags off a resource's tag map (nil when none is left).
func removeTags(m map[string]string, tags []tag) map[string]string {
	out := maps.Clone(m)
	for _, t := range tags {
		delete(out, t.Key)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// tagsList is a tag map as Lake lists it, by key.
func tagsList(m map[string]string) []tag {
	out := []tag{}
	for k, v := range m {
		out = append(out, tag{k, v})
	}
	slices.SortFunc(out, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// tagged is a resource that carries tags: an event data store or a channel.
type tagged struct {
	arn     string
	store   *lake.Store
	channel *integration.Channel
}

// resolveTagged finds the resource an ARN names among those the caller may see: tags are
// set and listed on event data stores and channels, by ARN as in Lake.
func (h *Handler) resolveTagged(c *call, arn string) (tagged, *Error) {
	switch {
	case arn == "":
		return tagged{}, invalidParameter("ResourceId is required")
	case !strings.HasPrefix(arn, "arn:"):
		return tagged{}, errorf(http.StatusBadRequest, "CloudTrailARNInvalidException", "%q is not an ARN: tags are set and listed by a store's or a channel's ARN", arn)
	case strings.Contains(arn, ":eventdatastore/"):
		s, e := h.resolveStore(c.principal(), arn)
		if e != nil {
			return tagged{}, e
		}
		return tagged{arn: storeARN(c.region, s.ID), store: &s}, nil
	case strings.Contains(arn, ":channel/"):
		ch, e := h.resolveChannel(c, arn)
		if e != nil {
			return tagged{}, e
		}
		return tagged{arn: ch.ARN, channel: &ch}, nil
	}
	return tagged{}, errorf(http.StatusBadRequest, "ResourceTypeNotSupportedException", "%s: auditlake tags event data stores and channels only (it has no trails or dashboards)", arn)
}

func (t tagged) tags() map[string]string {
	if t.store != nil {
		return t.store.Tags
	}
	return t.channel.Tags
}

// retag changes the tags of t by fn, under the lock of the catalog that holds it.
func (h *Handler) retag(t tagged, fn func(map[string]string) (map[string]string, *Error)) *Error {
	var refused *Error
	var err error
	if t.store != nil {
		_, err = h.opts.Lake.Update(t.store.ID, func(s *lake.Store) error {
			s.Tags, refused = fn(s.Tags)
			if refused != nil {
				return refused
			}
			return nil
		})
	} else {
		_, err = integration.UpdateChannel(h.opts.Lake, t.channel.ARN, func(ch *integration.Channel) error {
			ch.Tags, refused = fn(ch.Tags)
			if refused != nil {
				return refused
			}
			return nil
		})
	}
	switch {
	case refused != nil:
		return refused
	case errors.Is(err, lake.ErrNotFound):
		return errorf(http.StatusBadRequest, "EventDataStoreNotFoundException", "The specified event data store %s was not found.", t.arn)
	case errors.Is(err, integration.ErrChannelNotFound):
		return errorf(http.StatusBadRequest, "ChannelNotFoundException", "The specified channel %s was not found.", t.arn)
	case err != nil:
		return internal("set tags", err)
	}
	return nil
}

type tagsRequest struct {
	ResourceID string `json:"ResourceId"`
	TagsList   []tag  `json:"TagsList"`
}

func (h *Handler) addTagsOp(ctx context.Context, c *call) (any, *Error) {
	return h.changeTags(c, true)
}

func (h *Handler) removeTagsOp(ctx context.Context, c *call) (any, *Error) {
	return h.changeTags(c, false)
}

// changeTags answers AddTags (add) and RemoveTags: a change, so it needs manage.
func (h *Handler) changeTags(c *call, add bool) (any, *Error) {
	var req tagsRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	t, e := h.resolveTagged(c, req.ResourceID)
	if e != nil {
		return nil, e
	}
	if !c.principal().CanManage() {
		return nil, accessDenied(c.principal().Name(), c.op)
	}
	if e := checkTags(req.TagsList, add); e != nil {
		return nil, e
	}
	if e := h.auditable(); e != nil {
		return nil, e
	}
	e = h.retag(t, func(m map[string]string) (map[string]string, *Error) {
		if add {
			return addTags(m, req.TagsList)
		}
		return removeTags(m, req.TagsList), nil
	})
	keys := make([]string, len(req.TagsList))
	for i, tg := range req.TagsList {
		keys[i] = tg.Key
	}
	h.audit(c, map[string]any{"resourceId": t.arn, "tagKeys": keys}, e)
	if e != nil {
		return nil, e
	}
	return struct{}{}, nil
}

// maxTagResources is how many resources one ListTags names, as in CloudTrail.
const maxTagResources = 20

func (h *Handler) listTags(ctx context.Context, c *call) (any, *Error) {
	var req struct {
		ResourceIDList []string `json:"ResourceIdList"`
		NextToken      string   `json:"NextToken"`
	}
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if len(req.ResourceIDList) == 0 || len(req.ResourceIDList) > maxTagResources {
		return nil, invalidParameter("ResourceIdList names %d resources; name 1 to %d", len(req.ResourceIDList), maxTagResources)
	}
	type resourceTag struct {
		ResourceID string `json:"ResourceId"`
		TagsList   []tag  `json:"TagsList"`
	}
	if req.NextToken != "" { // every answer is one page: no token was given out
		return nil, errorf(http.StatusBadRequest, "InvalidNextTokenException", "NextToken %q is not a token of this listing", req.NextToken)
	}
	out := []resourceTag{}
	for _, arn := range req.ResourceIDList {
		t, e := h.resolveTagged(c, arn)
		if e != nil {
			return nil, e
		}
		out = append(out, resourceTag{arn, tagsList(t.tags())})
	}
	c.rows = len(out)
	return struct {
		ResourceTagList []resourceTag `json:"ResourceTagList"`
	}{out}, nil
}
