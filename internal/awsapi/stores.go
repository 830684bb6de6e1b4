package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/integration"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/selector"
)

// eventDataStore is Lake's description of a store.
type eventDataStore struct {
	EventDataStoreArn            string          `json:"EventDataStoreArn"`
	Name                         string          `json:"Name"`
	Status                       string          `json:"Status"`
	AdvancedEventSelectors       json.RawMessage `json:"AdvancedEventSelectors,omitempty"`
	MultiRegionEnabled           bool            `json:"MultiRegionEnabled"`
	OrganizationEnabled          bool            `json:"OrganizationEnabled"`
	RetentionPeriod              int             `json:"RetentionPeriod"`
	TerminationProtectionEnabled *bool           `json:"TerminationProtectionEnabled,omitempty"`
	CreatedTimestamp             *epoch          `json:"CreatedTimestamp,omitempty"`
	UpdatedTimestamp             *epoch          `json:"UpdatedTimestamp,omitempty"`
	BillingMode                  string          `json:"BillingMode,omitempty"`
	// TagsList: CreateEventDataStore's answer only (ListTags lists a store's tags).
	TagsList []tag `json:"TagsList,omitempty"`
}

func storeARN(region, id string) string {
	if region == "" {
		region = integration.DefaultRegion
	}
	return "arn:aws:cloudtrail:" + region + ":" + Account + ":eventdatastore/" + id
}

func describeStore(region string, s lake.Store) eventDataStore {
	tp := s.TerminationProtection
	d := eventDataStore{EventDataStoreArn: storeARN(region, s.ID), Name: s.Name, Status: "ENABLED",
		AdvancedEventSelectors: s.Selectors, MultiRegionEnabled: s.Type != lake.TypeActivity, RetentionPeriod: s.RetentionDays,
		TerminationProtectionEnabled: &tp, CreatedTimestamp: epochOf(s.CreatedAt), UpdatedTimestamp: epochOf(s.UpdatedAt),
		BillingMode: billingMode(s)}
	if len(d.AdvancedEventSelectors) == 0 {
		d.AdvancedEventSelectors = json.RawMessage(defaultSelectors(s.Type))
	}
	return d
}

// Lake's billing modes. A store's mode changes nothing auditlake does; FIXED_RETENTION_PRICING
// bounds its retention at 2557 days and cannot be chosen again once left, as in Lake.
const (
	billingExtendable = "EXTENDABLE_RETENTION_PRICING"
	billingFixed      = "FIXED_RETENTION_PRICING"
	maxFixedRetention = 2557
)

func billingMode(s lake.Store) string {
	if s.BillingMode == "" {
		return billingExtendable
	}
	return s.BillingMode
}

// checkBilling validates a request's BillingMode ("" keeps current, the mode of the store
// before it) and the retention it will have.
func checkBilling(mode, current string, retention int) *Error {
	switch mode {
	case "", billingExtendable:
	case billingFixed:
		if current == billingExtendable {
			return invalidParameter("BillingMode: an event data store's billing mode can change from %s to %s, not back", billingFixed, billingExtendable)
		}
	default:
		return invalidParameter("BillingMode %q is not %s or %s", mode, billingExtendable, billingFixed)
	}
	if mode == billingFixed || mode == "" && current == billingFixed {
		if retention > maxFixedRetention {
			return invalidParameter("RetentionPeriod %d: a store billed %s keeps events at most %d days", retention, billingFixed, maxFixedRetention)
		}
	}
	return nil
}

// unhonoured refuses the settings of a store of type typ that auditlake cannot honour, rather
// than accept and ignore them: it has no AWS Organizations, no KMS keys, no per-region
// CloudTrail or Config stores and no stopped ingestion (a store takes what is ingested into
// it). An activity store is single-region as Lake requires of a channel's destination (its
// events come from its channels, not from a region), so MultiRegionEnabled false is its own.
func unhonoured(typ string, organization bool, kmsKeyID string, multiRegion, startIngestion *bool) *Error {
	if typ == lake.TypeActivity {
		multiRegion = nil
	}
	switch {
	case organization:
		return errorf(http.StatusBadRequest, "UnsupportedOperationException", "OrganizationEnabled: auditlake has no AWS Organizations; ingest each account's trail instead")
	case kmsKeyID != "":
		return errorf(http.StatusBadRequest, "UnsupportedOperationException", "KmsKeyId: auditlake does not encrypt stores with KMS keys")
	case multiRegion != nil && !*multiRegion:
		return errorf(http.StatusBadRequest, "UnsupportedOperationException", "MultiRegionEnabled false: an auditlake store holds the events of every region ingested into it; filter on awsregion in queries instead")
	case startIngestion != nil && !*startIngestion:
		return errorf(http.StatusBadRequest, "UnsupportedOperationException", "StartIngestion false: an auditlake store takes the events ingested into it; it has no stopped state")
	}
	return nil
}

// defaultSelectors are the selectors Lake reports for a store created without any.
func defaultSelectors(typ string) string {
	category := map[string]string{lake.TypeConfig: "ConfigurationItem", lake.TypeActivity: "ActivityAuditLog"}[typ]
	if category == "" {
		category = "Management"
	}
	return `[{"Name":"Default","FieldSelectors":[{"Field":"eventCategory","Equals":["` + category + `"]}]}]`
}

// storeType is the store type Lake's selectors imply: eventCategory ConfigurationItem is a
// Config store, ActivityAuditLog an integration (activity) store, anything else CloudTrail.
func storeType(sels []selector.Selector) string {
	for _, s := range sels {
		for _, f := range s.FieldSelectors {
			if f.Field != "eventCategory" {
				continue
			}
			for _, v := range f.Equals {
				switch v {
				case "ConfigurationItem":
					return lake.TypeConfig
				case "ActivityAuditLog":
					return lake.TypeActivity
				}
			}
		}
	}
	return lake.TypeCloudTrail
}

// visible says whether p may see store id at all (a store it has no grant on is "not found").
func visible(p *access.Principal, id string) bool {
	ta := p.Table("store:" + id)
	return ta == nil || len(ta.Rules) > 0
}

// resolveStore finds the store ref names (an ARN, an id or a name) among those p may see.
func (h *Handler) resolveStore(p *access.Principal, ref string) (lake.Store, *Error) {
	if ref == "" {
		return lake.Store{}, invalidParameter("EventDataStore is required")
	}
	id := ref
	if strings.HasPrefix(ref, "arn:") {
		_, after, ok := strings.Cut(ref, ":eventdatastore/")
		if !ok || after == "" {
			return lake.Store{}, errorf(http.StatusBadRequest, "EventDataStoreARNInvalidException", "%q is not an event data store ARN (arn:aws:cloudtrail:REGION:ACCOUNT:eventdatastore/ID)", ref)
		}
		id = after
	}
	s, err := h.opts.Lake.Resolve(id)
	if errors.Is(err, lake.ErrNotFound) || (err == nil && !visible(p, s.ID)) {
		return lake.Store{}, errorf(http.StatusBadRequest, "EventDataStoreNotFoundException", "The specified event data store %s was not found.", ref)
	}
	if err != nil {
		return lake.Store{}, internal("resolve store", err)
	}
	return s, nil
}

type createStoreRequest struct {
	Name                         string          `json:"Name"`
	AdvancedEventSelectors       json.RawMessage `json:"AdvancedEventSelectors"`
	RetentionPeriod              int             `json:"RetentionPeriod"`
	TerminationProtectionEnabled *bool           `json:"TerminationProtectionEnabled"`
	OrganizationEnabled          bool            `json:"OrganizationEnabled"`
	KmsKeyID                     string          `json:"KmsKeyId"`
	BillingMode                  string          `json:"BillingMode"`
	TagsList                     []tag           `json:"TagsList"`
	MultiRegionEnabled           *bool           `json:"MultiRegionEnabled"`
	StartIngestion               *bool           `json:"StartIngestion"`
}

// selectorsOf validates selectors given in a request (nil when absent).
func selectorsOf(raw json.RawMessage) ([]selector.Selector, json.RawMessage, *Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	sels, err := selector.Parse(raw)
	if err != nil {
		return nil, nil, errorf(http.StatusBadRequest, "InvalidEventSelectorsException", "%v", err)
	}
	b, _ := json.Marshal(sels)
	return sels, b, nil
}

func (h *Handler) createEventDataStore(ctx context.Context, c *call) (any, *Error) {
	var req createStoreRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if !c.principal().CanManage() {
		return nil, accessDenied(c.principal().Name(), c.op)
	}
	if e := h.auditable(); e != nil {
		return nil, e
	}
	out, e := h.createStore(c, req)
	h.audit(c, map[string]any{"name": req.Name}, e)
	return out, e
}

func (h *Handler) createStore(c *call, req createStoreRequest) (any, *Error) {
	sels, raw, e := selectorsOf(req.AdvancedEventSelectors)
	if e != nil {
		return nil, e
	}
	if e := unhonoured(storeType(sels), req.OrganizationEnabled, req.KmsKeyID, req.MultiRegionEnabled, req.StartIngestion); e != nil {
		return nil, e
	}
	if e := checkTags(req.TagsList, true); e != nil {
		return nil, e
	}
	tags, e := addTags(nil, req.TagsList)
	if e != nil {
		return nil, e
	}
	if _, err := h.opts.Lake.Resolve(req.Name); err == nil {
		return nil, errorf(http.StatusBadRequest, "EventDataStoreAlreadyExistsException", "An event data store named %s already exists.", req.Name)
	}
	protect := true // Lake's default
	if req.TerminationProtectionEnabled != nil {
		protect = *req.TerminationProtectionEnabled
	}
	if req.RetentionPeriod != 0 {
		if err := lake.ValidateRetention(req.RetentionPeriod); err != nil {
			return nil, invalidParameter("RetentionPeriod: %v", err)
		}
	}
	retention := req.RetentionPeriod
	if retention == 0 {
		retention = lake.DefaultRetentionDays
	}
	if e := checkBilling(req.BillingMode, "", retention); e != nil {
		return nil, e
	}
	s, err := h.opts.Lake.Create(req.Name, lake.CreateOptions{Type: storeType(sels), RetentionDays: req.RetentionPeriod, TerminationProtection: protect})
	if err != nil {
		if strings.Contains(err.Error(), "already exists") {
			return nil, errorf(http.StatusBadRequest, "EventDataStoreAlreadyExistsException", "%v", err)
		}
		return nil, invalidParameter("%v", err)
	}
	if raw != nil || len(tags) > 0 || req.BillingMode != "" {
		if s, err = h.opts.Lake.Update(s.ID, func(st *lake.Store) error {
			st.Selectors, st.BillingMode = raw, req.BillingMode
			if len(tags) > 0 {
				st.Tags = tags
			}
			return nil
		}); err != nil {
			return nil, internal("set selectors, tags and billing mode", err)
		}
	}
	d := describeStore(c.region, s)
	if len(s.Tags) > 0 {
		d.TagsList = tagsList(s.Tags)
	}
	return d, nil
}

type storeRef struct {
	EventDataStore string `json:"EventDataStore"`
}

func (h *Handler) getEventDataStore(ctx context.Context, c *call) (any, *Error) {
	var req storeRef
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s, e := h.resolveStore(c.principal(), req.EventDataStore)
	if e != nil {
		return nil, e
	}
	c.rows = 1
	return describeStore(c.region, s), nil
}

type pageRequest struct {
	NextToken  string `json:"NextToken"`
	MaxResults int    `json:"MaxResults"`
}

func (h *Handler) listEventDataStores(ctx context.Context, c *call) (any, *Error) {
	var req pageRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	stores, err := h.opts.Lake.Stores()
	if err != nil {
		return nil, internal("list stores", err)
	}
	var all []eventDataStore
	for _, s := range stores {
		// The audit log is left out, as by eds list and the JSON API; GetEventDataStore and
		// queries reach it by id or name.
		if visible(c.principal(), s.ID) && !s.Builtin() {
			d := describeStore(c.region, s)
			d.TerminationProtectionEnabled = nil // "no longer returned by ListEventDataStores"
			all = append(all, d)
		}
	}
	page, next, e := paginateBy(all, req.NextToken, req.MaxResults, "stores", byName(func(s eventDataStore) string { return s.Name }))
	if e != nil {
		return nil, e
	}
	c.rows = len(page)
	return struct {
		EventDataStores []eventDataStore `json:"EventDataStores"`
		NextToken       string           `json:"NextToken,omitempty"`
	}{page, next}, nil
}

type updateStoreRequest struct {
	EventDataStore               string          `json:"EventDataStore"`
	Name                         string          `json:"Name"`
	AdvancedEventSelectors       json.RawMessage `json:"AdvancedEventSelectors"`
	RetentionPeriod              int             `json:"RetentionPeriod"`
	TerminationProtectionEnabled *bool           `json:"TerminationProtectionEnabled"`
	OrganizationEnabled          *bool           `json:"OrganizationEnabled"`
	KmsKeyID                     string          `json:"KmsKeyId"`
	MultiRegionEnabled           *bool           `json:"MultiRegionEnabled"`
	BillingMode                  string          `json:"BillingMode"`
}

// storeToManage resolves the store a change names (not found: as for a read) and checks that
// the caller may manage stores.
func (h *Handler) storeToManage(c *call, ref string) (lake.Store, *Error) {
	s, e := h.resolveStore(c.principal(), ref)
	if e != nil {
		return s, e
	}
	if !c.principal().CanManage() {
		return s, accessDenied(c.principal().Name(), c.op)
	}
	return s, nil
}

func (h *Handler) updateEventDataStore(ctx context.Context, c *call) (any, *Error) {
	var req updateStoreRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s, e := h.storeToManage(c, req.EventDataStore)
	if e != nil {
		return nil, e
	}
	if e := h.auditable(); e != nil {
		return nil, e
	}
	out, e := h.updateStore(c, s, req)
	h.audit(c, map[string]any{"eventDataStore": s.ID}, e)
	return out, e
}

func (h *Handler) updateStore(c *call, s lake.Store, req updateStoreRequest) (any, *Error) {
	if e := unhonoured(s.Type, req.OrganizationEnabled != nil && *req.OrganizationEnabled, req.KmsKeyID, req.MultiRegionEnabled, nil); e != nil {
		return nil, e
	}
	sels, raw, e := selectorsOf(req.AdvancedEventSelectors)
	if e != nil {
		return nil, e
	}
	if sels != nil && storeType(sels) != s.Type {
		return nil, errorf(http.StatusBadRequest, "InvalidEventSelectorsException", "the selectors' eventCategory would make %s a %s store; its type (%s) cannot change", s.Name, storeType(sels), s.Type)
	}
	if req.RetentionPeriod != 0 {
		if err := lake.ValidateRetention(req.RetentionPeriod); err != nil {
			return nil, invalidParameter("RetentionPeriod: %v", err)
		}
	}
	retention := s.RetentionDays
	if req.RetentionPeriod != 0 {
		retention = req.RetentionPeriod
	}
	if e := checkBilling(req.BillingMode, billingMode(s), retention); e != nil {
		return nil, e
	}
	if req.Name != "" && req.Name != s.Name {
		if _, err := h.opts.Lake.Resolve(req.Name); err == nil {
			return nil, errorf(http.StatusBadRequest, "EventDataStoreAlreadyExistsException", "An event data store named %s already exists.", req.Name)
		}
	}
	s, err := h.opts.Lake.Update(s.ID, func(st *lake.Store) error {
		if req.Name != "" {
			st.Name = req.Name
		}
		if req.RetentionPeriod != 0 {
			st.RetentionDays = req.RetentionPeriod
		}
		if req.TerminationProtectionEnabled != nil {
			st.TerminationProtection = *req.TerminationProtectionEnabled
		}
		if raw != nil {
			st.Selectors = raw
		}
		if req.BillingMode != "" {
			st.BillingMode = req.BillingMode
		}
		return nil
	})
	switch {
	case errors.Is(err, lake.ErrBuiltin):
		return nil, errorf(http.StatusBadRequest, "OperationNotPermittedException", "%v", err)
	case errors.Is(err, lake.ErrNotFound):
		return nil, errorf(http.StatusBadRequest, "EventDataStoreNotFoundException", "The specified event data store %s was not found.", req.EventDataStore)
	case errors.Is(err, lake.ErrNameTaken):
		return nil, errorf(http.StatusBadRequest, "EventDataStoreAlreadyExistsException", "%v", err)
	case errors.Is(err, lake.ErrInvalidName):
		return nil, invalidParameter("Name: %v", err)
	case err != nil:
		return nil, internal("update store", err)
	}
	return describeStore(c.region, s), nil
}

func (h *Handler) deleteEventDataStore(ctx context.Context, c *call) (any, *Error) {
	var req storeRef
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s, e := h.storeToManage(c, req.EventDataStore)
	if e != nil {
		return nil, e
	}
	if e := h.auditable(); e != nil {
		return nil, e
	}
	e = h.deleteStore(s)
	h.audit(c, map[string]any{"eventDataStore": s.ID, "name": s.Name}, e)
	if e != nil {
		return nil, e
	}
	return struct{}{}, nil
}

func (h *Handler) deleteStore(s lake.Store) *Error {
	chs, err := integration.Channels(h.opts.Lake)
	if err != nil {
		return internal("list channels", err)
	}
	for _, ch := range chs {
		if ch.StoreID == s.ID {
			return errorf(http.StatusBadRequest, "ChannelExistsForEDSException", "channel %s (%s) sends events to %s; delete it first", ch.Name, ch.ARN, s.Name)
		}
	}
	// A source collecting into the store would fail at every poll once it is gone.
	srcs, err := collect.Open(h.opts.Lake.Dir).List()
	if err != nil {
		return internal("list sources", err)
	}
	for _, src := range srcs {
		if src.Type != collect.TypeCUR && src.StoreID == s.ID {
			return errorf(http.StatusBadRequest, "ConflictException", "source %s collects into %s; remove it first (auditlake source remove %s)", src.Name, s.Name, src.Name)
		}
	}
	err = h.opts.Lake.Delete(s.ID)
	switch {
	case errors.Is(err, lake.ErrProtected):
		return errorf(http.StatusBadRequest, "EventDataStoreTerminationProtectedException",
			"Event data store %s cannot be deleted because termination protection is enabled; update it with TerminationProtectionEnabled false first.", s.Name)
	case errors.Is(err, lake.ErrBuiltin):
		return errorf(http.StatusBadRequest, "OperationNotPermittedException", "%v", err)
	case errors.Is(err, lake.ErrNotFound):
		return errorf(http.StatusBadRequest, "EventDataStoreNotFoundException", "The specified event data store %s was not found.", s.ID)
	case err != nil:
		return internal("delete store", err)
	}
	return nil
}

// storeLifecycle answers Lake's operations on a store's state, which an auditlake store does
// not have: DeleteEventDataStore deletes at once (no PENDING_DELETION to restore from) and a
// store takes what is ingested into it (ENABLED, never STOPPED_INGESTION). Each answers as
// Lake does for an ENABLED store: RestoreEventDataStore and StartEventDataStoreIngestion with
// InvalidEventDataStoreStatusException; StopEventDataStoreIngestion, which Lake would honour,
// with UnsupportedOperationException. A deleted store is EventDataStoreNotFoundException.
func (h *Handler) storeLifecycle(ctx context.Context, c *call) (any, *Error) {
	var req storeRef
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s, e := h.storeToManage(c, req.EventDataStore)
	if e != nil {
		return nil, e
	}
	switch c.op {
	case "RestoreEventDataStore":
		return nil, errorf(http.StatusBadRequest, "InvalidEventDataStoreStatusException",
			"Event data store %s is ENABLED, not PENDING_DELETION: only a deleted store is restored, and auditlake deletes a store at once (it cannot be restored)", s.Name)
	case "StartEventDataStoreIngestion":
		return nil, errorf(http.StatusBadRequest, "InvalidEventDataStoreStatusException",
			"Event data store %s is ENABLED: it already takes the events ingested into it", s.Name)
	}
	return nil, errorf(http.StatusBadRequest, "UnsupportedOperationException",
		"Event data store %s cannot stop ingestion: an auditlake store takes what is ingested into it; stop the sources that feed it (auditlake source list) instead", s.Name)
}
