// Package cloudtrail decodes CloudTrail records from every container shape they are delivered in
// and normalises each into a Record: one row of a CloudTrail Lake event data store
// (reference: aws-formats.md §1.2–1.3). It knows nothing of storage or SQL.
package cloudtrail

import (
	"hash/maphash"
	"time"
	"unsafe"
)

// Record is one CloudTrail event in the CloudTrail Lake event data store schema. A nil pointer,
// map or slice is SQL NULL. Field order follows the Lake schema.
type Record struct {
	EventVersion *string
	UserIdentity *UserIdentity
	// EventTime is the event's time in UTC. Always set: a record without a parseable eventTime
	// is rejected by the decoder.
	EventTime           time.Time
	EventSource         *string
	EventName           *string
	AWSRegion           *string
	SourceIPAddress     *string
	UserAgent           *string
	ErrorCode           *string
	ErrorMessage        *string
	RequestParameters   Map
	ResponseElements    Map
	AdditionalEventData Map
	RequestID           *string
	// EventID is always set: when the record has none, the decoder derives a stable one from the
	// record's content (so re-ingesting the same record still deduplicates).
	EventID                      string
	ReadOnly                     *bool
	Resources                    []Resource
	EventType                    *string
	APIVersion                   *string
	ManagementEvent              *bool
	RecipientAccountID           *string
	SharedEventID                *string
	Annotation                   *string
	VPCEndpointID                *string
	VPCEndpointAccountID         *string
	ServiceEventDetails          Map
	Addendum                     Map
	EdgeDeviceDetails            Map
	InsightDetails               Map
	EventCategory                *string
	TLSDetails                   *TLSDetails
	SessionCredentialFromConsole *string
	// EventJSON is the original record as compact JSON text, keys in their original order.
	EventJSON string
	// EventJSONChecksum is the lowercase hex SHA-256 of EventJSON, or "" when it was left
	// for the reader to derive (DecodeOptions.DeferChecksum), or JSONCut.
	EventJSONChecksum string

	// Detected is the verdicts of the detection rules evaluated in Go on the record as it was
	// decoded (rules.GoEval.Decoded; ingest.Options.Decoded), for the evaluation of its batch
	// to take instead of matching it again: that evaluator's token and an index into its
	// table of verdicts; 0 when not evaluated.
	Detected uint64

	// keyHash and kindHash cache KeyHash and KindHash (0: not computed). The decoder sets them
	// while the record's bytes are still in cache; batching them later would read every
	// record's strings again from memory.
	keyHash, kindHash uint64
	// memSize caches MemSize (0: not computed), set by the decoder with the hashes: ingest's
	// budget and the column writer's row-group cut each asked for it when the record had left
	// the cache (a 10M-event load spent 1.4 s of CPU there, chasing the identity's pointers).
	memSize int64
}

// JSONCut as a record's EventJSONChecksum says that its EventJSON is cut as a cold file's is
// (ctparquet.CutJSON: values of other columns replaced by markers) and its checksum is left to
// derive: the writer stores the checksum as null, and readers put the text back and derive the
// checksum (ctparquet.ColdJSONSQL, DerivedChecksumSQL). Only records built by auditlake (the
// alerts store's) are written so; the decoder never sets it.
const JSONCut = "\x00cut"

// hashSeed seeds the record hashes: they are for this process's maps, never stored.
var hashSeed = maphash.MakeSeed()

// KeyHash returns a 64-bit hash of the record's dedupe key — EventID and RecipientAccountID, a
// missing account differing from every present one. Equal keys have equal hashes; distinct keys
// collide with probability about 2⁻⁶⁴, so a caller that dedupes compares the keys on a match.
// Computed by the decoder; a record built or changed elsewhere has it computed on each call.
func (r *Record) KeyHash() uint64 {
	if r.keyHash != 0 {
		return r.keyHash
	}
	return r.computeKeyHash()
}

func (r *Record) computeKeyHash() uint64 {
	h := maphash.String(hashSeed, r.EventID)
	if r.RecipientAccountID != nil {
		h = mix(h, maphash.String(hashSeed, *r.RecipientAccountID))
	}
	return nonZero(h)
}

// KindHash returns a 64-bit hash of the record's event source and event name (each possibly
// missing), the first keys of a store's sort order.
func (r *Record) KindHash() uint64 {
	if r.kindHash != 0 {
		return r.kindHash
	}
	return r.computeKindHash()
}

func (r *Record) computeKindHash() uint64 {
	return kindHash(r.EventSource, r.EventName)
}

// KindHashOf is the KindHash of a record of event source source and event name name (both
// present): a caller looking for a few kinds compares the hash before the strings.
func KindHashOf(source, name string) uint64 {
	return kindHash(&source, &name)
}

func kindHash(source, name *string) uint64 {
	h := uint64(1)
	if source != nil {
		h = mix(h, maphash.String(hashSeed, *source))
	}
	h = mix(h, 2)
	if name != nil {
		h = mix(h, maphash.String(hashSeed, *name))
	}
	return nonZero(h)
}

// cacheHashes stores KeyHash, KindHash and MemSize in r; its fields must not change
// afterwards.
func (r *Record) cacheHashes() {
	r.keyHash, r.kindHash = r.computeKeyHash(), r.computeKindHash()
	r.memSize = r.computeMemSize()
}

// mix combines a running hash with the hash of the next part (order matters).
func mix(h, part uint64) uint64 {
	h ^= part + 0x9e3779b97f4a7c15 + h<<6 + h>>2
	return h * 0xbf58476d1ce4e5b9
}

func nonZero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// Map is a JSON object flattened one level, as Lake stores requestParameters and friends: one
// entry per top-level key in the record's key order; a string value is stored as is, any other
// value (object, array, number, boolean) as its compact JSON text. A JSON null value is an entry
// with a nil Value. A nil Map is SQL NULL (the whole field was absent or null).
type Map []KV

// KV is one entry of a Map.
type KV struct {
	Key   string
	Value *string
}

// Get returns the value stored under key, if any.
func (m Map) Get(key string) (string, bool) {
	for _, kv := range m {
		if kv.Key == key && kv.Value != nil {
			return *kv.Value, true
		}
	}
	return "", false
}

// UserIdentity is the Lake useridentity struct.
type UserIdentity struct {
	Type             *string
	PrincipalID      *string
	ARN              *string
	AccountID        *string
	AccessKeyID      *string
	UserName         *string
	SessionContext   *SessionContext
	InvokedBy        *string
	IdentityProvider *string
	CredentialID     *string
	OnBehalfOf       *OnBehalfOf
	InScopeOf        *InScopeOf
}

// SessionContext is useridentity.sessioncontext.
type SessionContext struct {
	Attributes          *SessionAttributes
	SessionIssuer       *SessionIssuer
	WebIDFederationData *WebIDFederationData
	SourceIdentity      *string
	EC2RoleDelivery     *string
	EC2IssuedInVPC      *string
}

// SessionAttributes is useridentity.sessioncontext.attributes. CreationDate accepts both ISO 8601
// ("2026-03-17T00:59:40Z") and the basic notation ("20131102T010628Z").
type SessionAttributes struct {
	CreationDate     *time.Time
	MFAAuthenticated *string
}

// SessionIssuer is useridentity.sessioncontext.sessionissuer.
type SessionIssuer struct {
	Type        *string
	PrincipalID *string
	ARN         *string
	AccountID   *string
	UserName    *string
}

// WebIDFederationData is useridentity.sessioncontext.webidfederationdata.
type WebIDFederationData struct {
	FederatedProvider *string
	Attributes        Map
}

// OnBehalfOf is useridentity.onbehalfof.
type OnBehalfOf struct {
	UserID           *string
	IdentityStoreARN *string
}

// InScopeOf is useridentity.inscopeof.
type InScopeOf struct {
	SourceARN           *string
	SourceAccount       *string
	IssuerType          *string
	CredentialsIssuedTo *string
}

// Resource is one entry of the Lake resources list. ARNPrefix is set when the JSON has one
// (Lake adds it for some resource types); otherwise NULL.
type Resource struct {
	AccountID *string
	Type      *string
	ARN       *string
	ARNPrefix *string
}

// TLSDetails is the Lake tlsdetails struct (plus keyexchange, newer than the Lake schema).
type TLSDetails struct {
	TLSVersion               *string
	CipherSuite              *string
	ClientProvidedHostHeader *string
	KeyExchange              *string
}

// Costs of MemSize, in bytes.
const (
	// memPerRecord: the record's block and, while it is written, about ten bytes in each of
	// the data file's leaf columns.
	memPerRecord = int64(unsafe.Sizeof(recordBlock{})) + 1024
	// memPerEntry: a map entry (its KV and value slot), and its key and value in the map's two
	// leaf columns while it is written (levels, a string header or dictionary entry each).
	memPerEntry = 192
	// memPerResource: a Resource with its four strings, and its four leaf columns' share.
	memPerResource = 384
)

// MemSize is a bound on the memory r holds, and takes while it is written to a data file, in
// bytes: twice its JSON text (its values are slices of that text, or at most as long when they
// had escapes), plus a cost per map entry and resource, which a record of many small values
// has in numbers (a 15 MB record may have a million). Ingest budgets the records it holds by
// it (ingest.Options.MemoryBudget).
func (r *Record) MemSize() int64 {
	if r.memSize != 0 {
		return r.memSize
	}
	return r.computeMemSize()
}

func (r *Record) computeMemSize() int64 {
	n := memPerRecord + 2*int64(len(r.EventJSON))
	entries := len(r.RequestParameters) + len(r.ResponseElements) + len(r.AdditionalEventData) +
		len(r.ServiceEventDetails) + len(r.Addendum) + len(r.EdgeDeviceDetails) + len(r.InsightDetails)
	if u := r.UserIdentity; u != nil && u.SessionContext != nil && u.SessionContext.WebIDFederationData != nil {
		entries += len(u.SessionContext.WebIDFederationData.Attributes)
	}
	return n + int64(entries)*memPerEntry + int64(len(r.Resources))*memPerResource
}
