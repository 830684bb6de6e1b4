package cloudtrail

import (
	"fmt"
	"strings"
	"time"
)

// recordDecoder maps one JSON object (compact text, validated as it is read) onto a Record and
// notes what else the object could be (a lookup-events entry, an EventBridge event, a container
// or a wrapper), so the caller can decide. Field names are matched case-insensitively. A field of
// the wrong type becomes NULL with a warning; only eventTime decides whether the record is kept.
type recordDecoder struct {
	s        string
	maxDepth int
	rec      *Record
	blk      *recordBlock // rec and the parts it has not yet taken
	slab     *blockSlab   // where blk comes from; nil: a block of its own
	left     int          // with slab: bytes of input left from s's start
	info     objInfo
	warnings []string
	strs     []string // backing store for the record's *string values: the block's, then 32 more at a time
	bools    []bool   // backing store for the record's *bool values: the block's, then one at a time
	kvs      Map      // backing store for the record's Maps: the block's, then one at a time
	kv       Map      // scratch for mapField
	nt       notes    // whitespace outside strings (rd.s is not compact JSON), lone surrogates
	// moreWarnings counts the warnings past maxRecordWarnings: counted, not kept (a record
	// repeating one key a million times would otherwise hold a million messages).
	moreWarnings int
}

// objInfo is what decode learnt about the object besides its Record fields.
type objInfo struct {
	sig             int    // how many of eventVersion, eventTime, eventSource, eventName, eventID
	cloudTrailEvent string // the CloudTrailEvent string (lookup-events), unescaped
	detailType      string // EventBridge detail-type
	detail          string // EventBridge detail, when an object
	records         string // the Records or Events array
	children        []string
	timeProblem     string // why eventTime is unusable; empty when it is fine
	eventIDProblem  string
	// duplicate is the first key given twice (path from the record's top) among the record's
	// own keys and those of its struct fields (userIdentity and what it holds, tlsDetails,
	// resources): the record is refused, as its columns (the last value) and its JSON (the
	// engine's functions read the first) would disagree.
	duplicate string
}

// Top-level keys.
const (
	fEventVersion = iota + 1
	fUserIdentity
	fEventTime
	fEventSource
	fEventName
	fAWSRegion
	fSourceIPAddress
	fUserAgent
	fErrorCode
	fErrorMessage
	fRequestParameters
	fResponseElements
	fAdditionalEventData
	fRequestID
	fEventID
	fReadOnly
	fResources
	fEventType
	fAPIVersion
	fManagementEvent
	fRecipientAccountID
	fSharedEventID
	fAnnotation
	fVPCEndpointID
	fVPCEndpointAccountID
	fServiceEventDetails
	fAddendum
	fEdgeDeviceDetails
	fInsightDetails
	fEventCategory
	fTLSDetails
	fSessionCredentialFromConsole
	fCloudTrailEvent
	fDetailType
	fDetail
	fRecords
)

var topFields = fieldTable(map[string]int{
	"eventVersion": fEventVersion, "userIdentity": fUserIdentity, "eventTime": fEventTime,
	"eventSource": fEventSource, "eventName": fEventName, "awsRegion": fAWSRegion,
	"sourceIPAddress": fSourceIPAddress, "userAgent": fUserAgent, "errorCode": fErrorCode,
	"errorMessage": fErrorMessage, "requestParameters": fRequestParameters,
	"responseElements": fResponseElements, "additionalEventData": fAdditionalEventData,
	"requestID": fRequestID, "eventID": fEventID, "readOnly": fReadOnly, "resources": fResources,
	"eventType": fEventType, "apiVersion": fAPIVersion, "managementEvent": fManagementEvent,
	"recipientAccountId": fRecipientAccountID, "sharedEventID": fSharedEventID,
	"annotation": fAnnotation, "vpcEndpointId": fVPCEndpointID,
	"vpcEndpointAccountId": fVPCEndpointAccountID, "serviceEventDetails": fServiceEventDetails,
	"addendum": fAddendum, "edgeDeviceDetails": fEdgeDeviceDetails,
	"insightDetails": fInsightDetails, "eventCategory": fEventCategory, "tlsDetails": fTLSDetails,
	"sessionCredentialFromConsole": fSessionCredentialFromConsole,
	"CloudTrailEvent":              fCloudTrailEvent, "detail-type": fDetailType, "detail": fDetail,
	"Records": fRecords, "Events": fRecords,
})

// Keys of nested structs (one namespace; each struct uses the ones it knows).
const (
	nType = iota + 1
	nPrincipalID
	nARN
	nAccountID
	nAccessKeyID
	nUserName
	nSessionContext
	nInvokedBy
	nIdentityProvider
	nCredentialID
	nOnBehalfOf
	nInScopeOf
	nAttributes
	nSessionIssuer
	nWebIDFederationData
	nSourceIdentity
	nEC2RoleDelivery
	nEC2IssuedInVPC
	nCreationDate
	nMFAAuthenticated
	nFederatedProvider
	nUserID
	nIdentityStoreARN
	nSourceARN
	nSourceAccount
	nIssuerType
	nCredentialsIssuedTo
	nARNPrefix
	nTLSVersion
	nCipherSuite
	nClientProvidedHostHeader
	nKeyExchange
)

var nestedFields = fieldTable(map[string]int{
	"type": nType, "principalId": nPrincipalID, "arn": nARN, "ARN": nARN, "accountId": nAccountID,
	"accessKeyId": nAccessKeyID, "userName": nUserName, "sessionContext": nSessionContext,
	"invokedBy": nInvokedBy, "identityProvider": nIdentityProvider, "credentialId": nCredentialID,
	"onBehalfOf": nOnBehalfOf, "inScopeOf": nInScopeOf, "attributes": nAttributes,
	"sessionIssuer": nSessionIssuer, "webIdFederationData": nWebIDFederationData,
	"sourceIdentity": nSourceIdentity, "ec2RoleDelivery": nEC2RoleDelivery,
	"ec2IssuedInVPC": nEC2IssuedInVPC, "creationDate": nCreationDate,
	"mfaAuthenticated": nMFAAuthenticated, "federatedProvider": nFederatedProvider,
	"userId": nUserID, "identityStoreArn": nIdentityStoreARN, "sourceArn": nSourceARN,
	"sourceAccount": nSourceAccount, "issuerType": nIssuerType,
	"credentialsIssuedTo": nCredentialsIssuedTo,
	// The Lake schema doc spells it credentiaisissuedto (aws-formats.md §1.2).
	"credentiaIsIssuedTo": nCredentialsIssuedTo,
	"ARNPrefix":           nARNPrefix, "arnPrefix": nARNPrefix, "tlsVersion": nTLSVersion,
	"cipherSuite": nCipherSuite, "clientProvidedHostHeader": nClientProvidedHostHeader,
	"keyExchange": nKeyExchange,
})

// fieldTable returns names with their lowercase forms added, so a lookup of the usual spelling
// needs no allocation and any other spelling needs one strings.ToLower.
func fieldTable(names map[string]int) map[string]int {
	m := make(map[string]int, 2*len(names))
	for k, v := range names {
		m[k] = v
		m[strings.ToLower(k)] = v
	}
	return m
}

// topField maps a key to its field: a switch for the usual spellings, the table for others.
func topField(key string) int {
	switch key {
	case "eventVersion":
		return fEventVersion
	case "userIdentity":
		return fUserIdentity
	case "eventTime":
		return fEventTime
	case "eventSource":
		return fEventSource
	case "eventName":
		return fEventName
	case "awsRegion":
		return fAWSRegion
	case "sourceIPAddress":
		return fSourceIPAddress
	case "userAgent":
		return fUserAgent
	case "errorCode":
		return fErrorCode
	case "errorMessage":
		return fErrorMessage
	case "requestParameters":
		return fRequestParameters
	case "responseElements":
		return fResponseElements
	case "additionalEventData":
		return fAdditionalEventData
	case "requestID":
		return fRequestID
	case "eventID":
		return fEventID
	case "readOnly":
		return fReadOnly
	case "resources":
		return fResources
	case "eventType":
		return fEventType
	case "apiVersion":
		return fAPIVersion
	case "managementEvent":
		return fManagementEvent
	case "recipientAccountId":
		return fRecipientAccountID
	case "sharedEventID":
		return fSharedEventID
	case "annotation":
		return fAnnotation
	case "vpcEndpointId":
		return fVPCEndpointID
	case "vpcEndpointAccountId":
		return fVPCEndpointAccountID
	case "serviceEventDetails":
		return fServiceEventDetails
	case "addendum":
		return fAddendum
	case "edgeDeviceDetails":
		return fEdgeDeviceDetails
	case "insightDetails":
		return fInsightDetails
	case "eventCategory":
		return fEventCategory
	case "tlsDetails":
		return fTLSDetails
	case "sessionCredentialFromConsole":
		return fSessionCredentialFromConsole
	case "CloudTrailEvent":
		return fCloudTrailEvent
	case "detail-type":
		return fDetailType
	case "detail":
		return fDetail
	case "Records":
		return fRecords
	case "Events":
		return fRecords
	}
	return topFields[strings.ToLower(key)]
}

// nestedField maps a key to its field: a switch for the usual spellings, the table for others.
func nestedField(key string) int {
	switch key {
	case "type":
		return nType
	case "principalId":
		return nPrincipalID
	case "arn":
		return nARN
	case "ARN":
		return nARN
	case "accountId":
		return nAccountID
	case "accessKeyId":
		return nAccessKeyID
	case "userName":
		return nUserName
	case "sessionContext":
		return nSessionContext
	case "invokedBy":
		return nInvokedBy
	case "identityProvider":
		return nIdentityProvider
	case "credentialId":
		return nCredentialID
	case "onBehalfOf":
		return nOnBehalfOf
	case "inScopeOf":
		return nInScopeOf
	case "attributes":
		return nAttributes
	case "sessionIssuer":
		return nSessionIssuer
	case "webIdFederationData":
		return nWebIDFederationData
	case "sourceIdentity":
		return nSourceIdentity
	case "ec2RoleDelivery":
		return nEC2RoleDelivery
	case "ec2IssuedInVPC":
		return nEC2IssuedInVPC
	case "creationDate":
		return nCreationDate
	case "mfaAuthenticated":
		return nMFAAuthenticated
	case "federatedProvider":
		return nFederatedProvider
	case "userId":
		return nUserID
	case "identityStoreArn":
		return nIdentityStoreARN
	case "sourceArn":
		return nSourceARN
	case "sourceAccount":
		return nSourceAccount
	case "issuerType":
		return nIssuerType
	case "credentialsIssuedTo":
		return nCredentialsIssuedTo
	case "credentiaIsIssuedTo":
		return nCredentialsIssuedTo
	case "ARNPrefix":
		return nARNPrefix
	case "arnPrefix":
		return nARNPrefix
	case "tlsVersion":
		return nTLSVersion
	case "cipherSuite":
		return nCipherSuite
	case "clientProvidedHostHeader":
		return nClientProvidedHostHeader
	case "keyExchange":
		return nKeyExchange
	}
	return nestedFields[strings.ToLower(key)]
}

func (rd *recordDecoder) init(s string, maxDepth int) {
	rd.s = s
	rd.maxDepth = maxDepth
}

// skipWS returns the index of the first non-whitespace byte at or after i, noting in rd.ws
// whether there was any.
func (rd *recordDecoder) skipWS(i int) int {
	return skipWSNote(rd.s, i, &rd.nt.ws)
}

// skipValue validates the value at i (see skipValue), noting whitespace in rd.ws.
func (rd *recordDecoder) skipValue(i, depth int) (int, error) {
	return skipValueNote(rd.s, i, depth, rd.maxDepth, &rd.nt)
}

// scanString validates the string at i (see scanString), noting a lone surrogate in rd.nt.
func (rd *recordDecoder) scanString(i int) (int, escapes, error) {
	end, esc, err := scanString(rd.s, i)
	rd.nt.lone = rd.nt.lone || esc&escLone != 0
	return end, esc, err
}

func (rd *recordDecoder) warn(format string, args ...any) {
	if len(rd.warnings) >= maxRecordWarnings {
		rd.moreWarnings++
		return
	}
	rd.warnings = append(rd.warnings, fmt.Sprintf(format, args...))
}

// maxRecordWarnings is how many warnings of one record are kept as messages; the rest are
// counted (Stats.Warnings) without their text.
const maxRecordWarnings = 100

// recordBlock is a record allocated together with what most CloudTrail records have: a user
// identity with its session context (attributes, creation date, issuer, web identity data), TLS
// details, the checksum's text, a few resources, booleans and map entries, and about 40 string
// values (the generated records' mean is 33). Allocated one by one they were over a dozen
// objects a record for the allocator to hand out and the collector to find; all of them live
// exactly as long as the record. A part taken once (a repeated key) is allocated on its own the
// second time, as is whatever outgrows its array.
type recordBlock struct {
	rec     Record
	ui      UserIdentity
	sc      SessionContext
	sa      SessionAttributes
	si      SessionIssuer
	wif     WebIDFederationData
	tls     TLSDetails
	created time.Time
	taken   uint8 // the parts above given out (takenUI, ...)
	sum     [64]byte
	bools   [4]bool
	res     [2]Resource
	kvs     [10]KV
	strs    [40]string
}

// slabBlocks is the most record blocks a blockSlab allocates at a time.
const slabBlocks = 16

// blockSlab hands out the record blocks of one input's records decoded in place from arrays of
// up to slabBlocks: one allocation instead of one a record, for the allocator to find room for
// and set the type of. The records of a slab are consecutive records of one input, held and
// emitted together (decoder.run), so a slab seldom outlives its records by long. An array is
// sized by what is left of the input, so that a small input's records do not leave most of one
// unused; a block whose record is not kept (refused, or not wanted by DecodeOptions.Keep) is
// given back while it is the last one handed out (giveBack).
type blockSlab struct {
	blocks []recordBlock
	n      int // handed out of blocks
}

// next returns a zeroed block; left is how many bytes of input are left from the record's
// start, which bounds how many more records may follow.
func (s *blockSlab) next(left int) *recordBlock {
	if s.n == len(s.blocks) {
		s.blocks, s.n = make([]recordBlock, min(max(left/slabRecordBytes, 1), slabBlocks)), 0
	}
	s.n++
	return &s.blocks[s.n-1]
}

// slabRecordBytes is about the smallest JSON of a record: a slab is sized for what is left of
// the input at this many bytes a record (a CloudTrail record is 1–2 KB of JSON).
const slabRecordBytes = 1024

// giveBack takes back the block of rec, zeroed, if it is the last one handed out; rec must not
// be referred to any more.
func (s *blockSlab) giveBack(rec *Record) {
	if s != nil && s.n > 0 && rec == &s.blocks[s.n-1].rec {
		s.blocks[s.n-1] = recordBlock{}
		s.n--
	}
}

const (
	takenUI = 1 << iota
	takenSC
	takenSA
	takenSI
	takenWIF
	takenTLS
	takenCreated
	takenRes
)

// newRecord starts a record in a new block.
func (rd *recordDecoder) newRecord() {
	if rd.slab != nil {
		rd.blk = rd.slab.next(rd.left)
	} else {
		rd.blk = new(recordBlock)
	}
	rd.rec = &rd.blk.rec
	rd.strs = rd.blk.strs[:0]
	rd.bools = rd.blk.bools[:0]
	rd.kvs = rd.blk.kvs[:0]
}

// take returns the block's part at p (bit says which) if the record has not taken it yet, and
// otherwise a new one.
func take[T any](rd *recordDecoder, bit uint8, p *T) *T {
	if rd.blk.taken&bit != 0 {
		return new(T)
	}
	rd.blk.taken |= bit
	return p
}

// newResources returns an empty, non-nil list with room for the block's resources.
func (rd *recordDecoder) newResources() []Resource {
	return take(rd, takenRes, &rd.blk.res)[:0]
}

// newMap returns a Map of n entries, from the block's entries while they last.
func (rd *recordDecoder) newMap(n int) Map {
	if k := len(rd.kvs); rd.kvs != nil && cap(rd.kvs)-k >= n { // never nil: an empty Map is not NULL
		rd.kvs = rd.kvs[:k+n]
		return rd.kvs[k : k+n : k+n]
	}
	return make(Map, n)
}

// boolPtr returns a pointer to v held in the decoder's backing store: records never share
// one, a caller may write through it.
func (rd *recordDecoder) boolPtr(v bool) *bool {
	if len(rd.bools) == cap(rd.bools) {
		return &v
	}
	rd.bools = append(rd.bools, v)
	return &rd.bools[len(rd.bools)-1]
}

// ptr returns a pointer to a copy of v held in the decoder's backing store.
func (rd *recordDecoder) ptr(v string) *string {
	if len(rd.strs) == cap(rd.strs) {
		rd.strs = make([]string, 0, 32)
	}
	rd.strs = append(rd.strs, v)
	return &rd.strs[len(rd.strs)-1]
}

// object walks the members of the object at s[i] (which must be '{'), calling f with each key
// and the index of its value; f returns the index after the value.
func (rd *recordDecoder) object(i, depth int, f func(key string, vi, depth int) (int, error)) (int, error) {
	s := rd.s
	if depth > rd.maxDepth {
		return 0, &syntaxError{off: i, msg: fmt.Sprintf("nesting deeper than %d levels", rd.maxDepth)}
	}
	i = rd.skipWS(i + 1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, errAt(s, i, "object")
		}
		kEnd, kEsc, err := rd.scanString(i)
		if err != nil {
			return 0, err
		}
		key := unquote(s, i, kEnd, kEsc)
		i = rd.skipWS(kEnd)
		if i >= len(s) || s[i] != ':' {
			return 0, errAt(s, i, "object")
		}
		i = rd.skipWS(i + 1)
		if i >= len(s) {
			return 0, errAt(s, i, "object")
		}
		end, err := f(key, i, depth+1)
		if err != nil {
			return 0, err
		}
		i = rd.skipWS(end)
		if i >= len(s) {
			return 0, errAt(s, i, "object")
		}
		switch s[i] {
		case '}':
			return i + 1, nil
		case ',':
			i = rd.skipWS(i + 1)
		default:
			return 0, errAt(s, i, "object")
		}
	}
}

// decode reads the object rd.s (whose first byte is '{') and returns the index after it.
func (rd *recordDecoder) decode() (int, error) {
	rd.newRecord()
	var seen uint64
	hasTime := false
	end, err := rd.object(0, 0, func(key string, i, depth int) (int, error) {
		id := topField(key)
		if id == 0 {
			return rd.unknown(i, depth)
		}
		k := path{key: key}
		if rd.once(&seen, id, k) {
			switch id {
			case fEventVersion, fEventTime, fEventSource, fEventName, fEventID:
				rd.info.sig++
			}
		}
		r := rd.rec
		var err error
		switch id {
		case fEventVersion:
			r.EventVersion, i, err = rd.str(i, depth, k)
		case fUserIdentity:
			r.UserIdentity, i, err = rd.userIdentity(i, depth, k)
		case fEventTime:
			i, err = rd.eventTime(i, depth, k, &hasTime)
		case fEventSource:
			r.EventSource, i, err = rd.str(i, depth, k)
		case fEventName:
			r.EventName, i, err = rd.str(i, depth, k)
		case fAWSRegion:
			r.AWSRegion, i, err = rd.str(i, depth, k)
		case fSourceIPAddress:
			r.SourceIPAddress, i, err = rd.str(i, depth, k)
		case fUserAgent:
			r.UserAgent, i, err = rd.str(i, depth, k)
		case fErrorCode:
			r.ErrorCode, i, err = rd.str(i, depth, k)
		case fErrorMessage:
			r.ErrorMessage, i, err = rd.str(i, depth, k)
		case fRequestParameters:
			r.RequestParameters, i, err = rd.mapField(i, depth, k)
		case fResponseElements:
			r.ResponseElements, i, err = rd.mapField(i, depth, k)
		case fAdditionalEventData:
			r.AdditionalEventData, i, err = rd.mapField(i, depth, k)
		case fRequestID:
			r.RequestID, i, err = rd.str(i, depth, k)
		case fEventID:
			i, err = rd.eventID(i, depth, k)
		case fReadOnly:
			r.ReadOnly, i, err = rd.boolean(i, depth, k)
		case fResources:
			r.Resources, i, err = rd.resources(i, depth, k)
		case fEventType:
			r.EventType, i, err = rd.str(i, depth, k)
		case fAPIVersion:
			r.APIVersion, i, err = rd.str(i, depth, k)
		case fManagementEvent:
			r.ManagementEvent, i, err = rd.boolean(i, depth, k)
		case fRecipientAccountID:
			r.RecipientAccountID, i, err = rd.str(i, depth, k)
		case fSharedEventID:
			r.SharedEventID, i, err = rd.str(i, depth, k)
		case fAnnotation:
			r.Annotation, i, err = rd.str(i, depth, k)
		case fVPCEndpointID:
			r.VPCEndpointID, i, err = rd.str(i, depth, k)
		case fVPCEndpointAccountID:
			r.VPCEndpointAccountID, i, err = rd.str(i, depth, k)
		case fServiceEventDetails:
			r.ServiceEventDetails, i, err = rd.mapField(i, depth, k)
		case fAddendum:
			r.Addendum, i, err = rd.mapField(i, depth, k)
		case fEdgeDeviceDetails:
			r.EdgeDeviceDetails, i, err = rd.mapField(i, depth, k)
		case fInsightDetails:
			r.InsightDetails, i, err = rd.mapField(i, depth, k)
		case fEventCategory:
			r.EventCategory, i, err = rd.str(i, depth, k)
		case fTLSDetails:
			r.TLSDetails, i, err = rd.tlsDetails(i, depth, k)
		case fSessionCredentialFromConsole:
			r.SessionCredentialFromConsole, i, err = rd.boolText(i, depth, k)
		case fCloudTrailEvent:
			var p *string
			p, i, err = rd.strQuiet(i, depth)
			if p != nil {
				rd.info.cloudTrailEvent = *p
			}
		case fDetailType:
			var p *string
			p, i, err = rd.strQuiet(i, depth)
			if p != nil {
				rd.info.detailType = *p
			}
		case fDetail, fRecords:
			start := i
			i, err = rd.skipValue(i, depth)
			if err == nil && id == fDetail && rd.s[start] == '{' {
				rd.info.detail = rd.s[start:i]
			}
			if err == nil && id == fRecords && rd.s[start] == '[' {
				rd.info.records = rd.s[start:i]
			}
		}
		return i, err
	})
	if err != nil {
		return 0, err
	}
	if !hasTime && rd.info.timeProblem == "" {
		rd.info.timeProblem = "eventTime is missing"
	}
	if rd.rec.EventID == "" && rd.info.eventIDProblem == "" {
		rd.info.eventIDProblem = "eventID is missing"
	}
	return end, nil
}

// unknown skips the value of a key that is not a record field, remembering objects and strings
// holding JSON objects as possible wrapped records.
func (rd *recordDecoder) unknown(i, depth int) (int, error) {
	s := rd.s
	switch s[i] {
	case '{':
		end, err := rd.skipValue(i, depth)
		if err == nil {
			rd.info.children = append(rd.info.children, s[i:end])
		}
		return end, err
	case '"':
		end, esc, err := rd.scanString(i)
		if err != nil {
			return 0, err
		}
		if c := s[i+1]; c != '{' && c != ' ' && c != '\\' {
			return end, nil // cannot hold a JSON object: skip the unquoting
		}
		if v := strings.TrimLeft(unquote(s, i, end, esc), " \t\r\n"); strings.HasPrefix(v, "{") {
			rd.info.children = append(rd.info.children, v)
		}
		return end, nil
	}
	return rd.skipValue(i, depth)
}

// once marks field id (0: a key the decoder does not read) as seen in the object whose seen set
// is given, and reports whether it is the first time; the first key seen twice in a record is
// kept in info.duplicate (named by its path).
func (rd *recordDecoder) once(seen *uint64, id int, name path) bool {
	if id == 0 {
		return true
	}
	if *seen&(1<<id) != 0 {
		if rd.info.duplicate == "" {
			rd.info.duplicate = name.String()
		}
		return false
	}
	*seen |= 1 << id
	return true
}

// wrongType skips a value of the wrong type and warns.
func (rd *recordDecoder) wrongType(i, depth int, name path, want string) (int, error) {
	end, err := rd.skipValue(i, depth)
	if err == nil {
		rd.warn("%s is %s, not %s: stored as NULL", name.String(), kindName(rd.s[i]), want)
	}
	return end, err
}

// null consumes a null literal at s[i], if there is one.
func (rd *recordDecoder) null(i int) (int, bool) {
	if strings.HasPrefix(rd.s[i:], "null") {
		return i + 4, true
	}
	return i, false
}

// str reads a string field; null is NULL, another type NULL with a warning.
func (rd *recordDecoder) str(i, depth int, name path) (*string, int, error) {
	s := rd.s
	if s[i] == '"' {
		end, esc, err := rd.scanString(i)
		if err != nil {
			return nil, 0, err
		}
		return rd.ptr(unquote(s, i, end, esc)), end, nil
	}
	if end, ok := rd.null(i); ok {
		return nil, end, nil
	}
	end, err := rd.wrongType(i, depth, name, "a string")
	return nil, end, err
}

// strQuiet reads a string without warnings about its type.
func (rd *recordDecoder) strQuiet(i, depth int) (*string, int, error) {
	s := rd.s
	if s[i] == '"' {
		end, esc, err := rd.scanString(i)
		if err != nil {
			return nil, 0, err
		}
		v := unquote(s, i, end, esc)
		return &v, end, nil
	}
	end, err := rd.skipValue(i, depth)
	return nil, end, err
}

// boolText reads a string field that may also be written as a JSON boolean.
func (rd *recordDecoder) boolText(i, depth int, name path) (*string, int, error) {
	s := rd.s
	switch {
	case strings.HasPrefix(s[i:], "true"):
		return rd.ptr("true"), i + 4, nil
	case strings.HasPrefix(s[i:], "false"):
		return rd.ptr("false"), i + 5, nil
	}
	return rd.str(i, depth, name)
}

// boolean reads a boolean field that may also be written as the string "true" or "false".
func (rd *recordDecoder) boolean(i, depth int, name path) (*bool, int, error) {
	s := rd.s
	switch {
	case strings.HasPrefix(s[i:], "true"):
		return rd.boolPtr(true), i + 4, nil
	case strings.HasPrefix(s[i:], "false"):
		return rd.boolPtr(false), i + 5, nil
	case s[i] == '"':
		end, esc, err := rd.scanString(i)
		if err != nil {
			return nil, 0, err
		}
		switch v := unquote(s, i, end, esc); {
		case strings.EqualFold(v, "true"):
			return rd.boolPtr(true), end, nil
		case strings.EqualFold(v, "false"):
			return rd.boolPtr(false), end, nil
		default:
			rd.warn("%s %q is not a boolean: stored as NULL", name.String(), v)
			return nil, end, nil
		}
	}
	if end, ok := rd.null(i); ok {
		return nil, end, nil
	}
	end, err := rd.wrongType(i, depth, name, "a boolean")
	return nil, end, err
}

// eventTime reads eventTime into the record; a problem with it drops the record.
func (rd *recordDecoder) eventTime(i, depth int, name path, ok *bool) (int, error) {
	s := rd.s
	if s[i] == '"' {
		end, esc, err := rd.scanString(i)
		if err != nil {
			return 0, err
		}
		v := unquote(s, i, end, esc)
		t, good := parseTime(v)
		if good {
			rd.rec.EventTime = t
			*ok = true
			rd.info.timeProblem = ""
		} else {
			*ok = false
			rd.info.timeProblem = fmt.Sprintf("%s %q is not a timestamp", name.String(), v)
		}
		return end, nil
	}
	*ok = false
	end, err := rd.skipValue(i, depth)
	rd.info.timeProblem = fmt.Sprintf("%s is %s, not a timestamp", name.String(), kindName(s[i]))
	return end, err
}

// eventID reads eventID; when unusable the caller synthesises one.
func (rd *recordDecoder) eventID(i, depth int, name path) (int, error) {
	s := rd.s
	rd.rec.EventID = ""
	if s[i] == '"' {
		end, esc, err := rd.scanString(i)
		if err != nil {
			return 0, err
		}
		rd.rec.EventID = unquote(s, i, end, esc)
		if rd.rec.EventID == "" {
			rd.info.eventIDProblem = name.String() + " is empty"
		}
		return end, nil
	}
	end, err := rd.skipValue(i, depth)
	rd.info.eventIDProblem = fmt.Sprintf("%s is %s", name.String(), kindName(s[i]))
	return end, err
}

// mapField reads an object into a Map (aws-formats.md §1.3): one entry per top-level key, in
// order; strings raw, other values as compact JSON text, null as a nil Value. A repeated key
// keeps its first value (a Lake map cannot hold the same key twice): the one the engine's JSON
// functions read from eventjson, and the one Config items keep.
func (rd *recordDecoder) mapField(i, depth int, name path) (Map, int, error) {
	s := rd.s
	if s[i] != '{' {
		if end, ok := rd.null(i); ok {
			return nil, end, nil
		}
		end, err := rd.wrongType(i, depth, name, "an object")
		return nil, end, err
	}
	// Entries are gathered in a scratch slice, then copied once into a Map of the right size.
	m := rd.kv[:0]
	var dup keyIndex
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var v *string
		var end int
		switch s[vi] {
		case '"':
			e, esc, err := rd.scanString(vi)
			if err != nil {
				return 0, err
			}
			v, end = rd.ptr(unquote(s, vi, e, esc)), e
		case 'n':
			e, ok := rd.null(vi)
			if !ok {
				return 0, errAt(s, vi, "value")
			}
			end = e
		default:
			e, err := rd.skipValue(vi, depth)
			if err != nil {
				return 0, err
			}
			v, end = rd.ptr(s[vi:e]), e
		}
		if k := dup.find(m, key); k >= 0 {
			rd.warn("%s has the key %q twice: the first value is kept", name.String(), key)
			return end, nil
		}
		dup.add(key, len(m))
		m = append(m, KV{Key: key, Value: v})
		dup.grow(m)
		return end, nil
	})
	rd.kv = m[:0]
	if err != nil {
		return nil, 0, err
	}
	out := rd.newMap(len(m))
	copy(out, m)
	return out, end, nil
}

// resources reads the resources array; entries that are not objects are dropped with a warning.
func (rd *recordDecoder) resources(i, depth int, name path) ([]Resource, int, error) {
	s := rd.s
	if s[i] != '[' {
		if end, ok := rd.null(i); ok {
			return nil, end, nil
		}
		end, err := rd.wrongType(i, depth, name, "an array")
		return nil, end, err
	}
	if depth+1 > rd.maxDepth {
		return nil, 0, &syntaxError{off: i, msg: fmt.Sprintf("nesting deeper than %d levels", rd.maxDepth)}
	}
	out := rd.newResources()
	parent := name
	i = rd.skipWS(i + 1)
	if i < len(s) && s[i] == ']' {
		return out, i + 1, nil
	}
	for n := 0; ; n++ {
		if i >= len(s) {
			return nil, 0, errAt(s, i, "array")
		}
		if s[i] == '{' {
			var r Resource
			var seen uint64
			end, err := rd.object(i, depth+1, func(key string, vi, depth int) (int, error) {
				var err error
				id := nestedField(key)
				rd.once(&seen, id, path{&parent, key})
				switch id {
				case nAccountID:
					r.AccountID, vi, err = rd.str(vi, depth, path{&parent, "accountId"})
				case nType:
					r.Type, vi, err = rd.str(vi, depth, path{&parent, "type"})
				case nARN:
					r.ARN, vi, err = rd.str(vi, depth, path{&parent, "ARN"})
				case nARNPrefix:
					r.ARNPrefix, vi, err = rd.str(vi, depth, path{&parent, "ARNPrefix"})
				default:
					vi, err = rd.skipValue(vi, depth)
				}
				return vi, err
			})
			if err != nil {
				return nil, 0, err
			}
			out = append(out, r)
			i = end
		} else {
			end, err := rd.skipValue(i, depth+1)
			if err != nil {
				return nil, 0, err
			}
			rd.warn("%s[%d] is %s, not an object: dropped", name.String(), n, kindName(s[i]))
			i = end
		}
		i = rd.skipWS(i)
		if i >= len(s) {
			return nil, 0, errAt(s, i, "array")
		}
		switch s[i] {
		case ']':
			return out, i + 1, nil
		case ',':
			i = rd.skipWS(i + 1)
		default:
			return nil, 0, errAt(s, i, "array")
		}
	}
}

// structStart checks that the value at s[i] is an object. For null it returns the end of the
// null; for another type it warns and returns the end of the value.
func (rd *recordDecoder) structStart(i, depth int, name path) (isObject bool, end int, err error) {
	if rd.s[i] == '{' {
		return true, i, nil
	}
	if end, ok := rd.null(i); ok {
		return false, end, nil
	}
	end, err = rd.wrongType(i, depth, name, "an object")
	return false, end, err
}

func (rd *recordDecoder) userIdentity(i, depth int, name path) (*UserIdentity, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	u := take(rd, takenUI, &rd.blk.ui)
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nType:
			u.Type, vi, err = rd.str(vi, depth, p)
		case nPrincipalID:
			u.PrincipalID, vi, err = rd.str(vi, depth, p)
		case nARN:
			u.ARN, vi, err = rd.str(vi, depth, p)
		case nAccountID:
			u.AccountID, vi, err = rd.str(vi, depth, p)
		case nAccessKeyID:
			u.AccessKeyID, vi, err = rd.str(vi, depth, p)
		case nUserName:
			u.UserName, vi, err = rd.str(vi, depth, p)
		case nSessionContext:
			u.SessionContext, vi, err = rd.sessionContext(vi, depth, p)
		case nInvokedBy:
			u.InvokedBy, vi, err = rd.str(vi, depth, p)
		case nIdentityProvider:
			u.IdentityProvider, vi, err = rd.str(vi, depth, p)
		case nCredentialID:
			u.CredentialID, vi, err = rd.str(vi, depth, p)
		case nOnBehalfOf:
			u.OnBehalfOf, vi, err = rd.onBehalfOf(vi, depth, p)
		case nInScopeOf:
			u.InScopeOf, vi, err = rd.inScopeOf(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return u, end, err
}

func (rd *recordDecoder) sessionContext(i, depth int, name path) (*SessionContext, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	sc := take(rd, takenSC, &rd.blk.sc)
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nAttributes:
			sc.Attributes, vi, err = rd.sessionAttributes(vi, depth, p)
		case nSessionIssuer:
			sc.SessionIssuer, vi, err = rd.sessionIssuer(vi, depth, p)
		case nWebIDFederationData:
			sc.WebIDFederationData, vi, err = rd.webID(vi, depth, p)
		case nSourceIdentity:
			sc.SourceIdentity, vi, err = rd.str(vi, depth, p)
		case nEC2RoleDelivery:
			sc.EC2RoleDelivery, vi, err = rd.str(vi, depth, p)
		case nEC2IssuedInVPC:
			sc.EC2IssuedInVPC, vi, err = rd.str(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return sc, end, err
}

func (rd *recordDecoder) sessionAttributes(i, depth int, name path) (*SessionAttributes, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	a := take(rd, takenSA, &rd.blk.sa)
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nCreationDate:
			var v *string
			v, vi, err = rd.str(vi, depth, p)
			if v != nil {
				if t, ok := parseTime(*v); ok {
					c := take(rd, takenCreated, &rd.blk.created)
					*c = t
					a.CreationDate = c
				} else {
					rd.warn("%s %q is not a timestamp: stored as NULL", p.String(), *v)
				}
			}
		case nMFAAuthenticated:
			a.MFAAuthenticated, vi, err = rd.boolText(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return a, end, err
}

func (rd *recordDecoder) sessionIssuer(i, depth int, name path) (*SessionIssuer, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	si := take(rd, takenSI, &rd.blk.si)
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nType:
			si.Type, vi, err = rd.str(vi, depth, p)
		case nPrincipalID:
			si.PrincipalID, vi, err = rd.str(vi, depth, p)
		case nARN:
			si.ARN, vi, err = rd.str(vi, depth, p)
		case nAccountID:
			si.AccountID, vi, err = rd.str(vi, depth, p)
		case nUserName:
			si.UserName, vi, err = rd.str(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return si, end, err
}

func (rd *recordDecoder) webID(i, depth int, name path) (*WebIDFederationData, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	w := take(rd, takenWIF, &rd.blk.wif)
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nFederatedProvider:
			w.FederatedProvider, vi, err = rd.str(vi, depth, p)
		case nAttributes:
			w.Attributes, vi, err = rd.mapField(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return w, end, err
}

func (rd *recordDecoder) onBehalfOf(i, depth int, name path) (*OnBehalfOf, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	o := &OnBehalfOf{}
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nUserID:
			o.UserID, vi, err = rd.str(vi, depth, p)
		case nIdentityStoreARN:
			o.IdentityStoreARN, vi, err = rd.str(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return o, end, err
}

func (rd *recordDecoder) inScopeOf(i, depth int, name path) (*InScopeOf, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	o := &InScopeOf{}
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nSourceARN:
			o.SourceARN, vi, err = rd.str(vi, depth, p)
		case nSourceAccount:
			o.SourceAccount, vi, err = rd.str(vi, depth, p)
		case nIssuerType:
			o.IssuerType, vi, err = rd.str(vi, depth, p)
		case nCredentialsIssuedTo:
			o.CredentialsIssuedTo, vi, err = rd.str(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return o, end, err
}

func (rd *recordDecoder) tlsDetails(i, depth int, name path) (*TLSDetails, int, error) {
	if ok, end, err := rd.structStart(i, depth, name); !ok {
		return nil, end, err
	}
	parent := name
	t := take(rd, takenTLS, &rd.blk.tls)
	var seen uint64
	end, err := rd.object(i, depth, func(key string, vi, depth int) (int, error) {
		var err error
		p := path{&parent, key}
		id := nestedField(key)
		rd.once(&seen, id, p)
		switch id {
		case nTLSVersion:
			t.TLSVersion, vi, err = rd.str(vi, depth, p)
		case nCipherSuite:
			t.CipherSuite, vi, err = rd.str(vi, depth, p)
		case nClientProvidedHostHeader:
			t.ClientProvidedHostHeader, vi, err = rd.str(vi, depth, p)
		case nKeyExchange:
			t.KeyExchange, vi, err = rd.str(vi, depth, p)
		default:
			vi, err = rd.skipValue(vi, depth)
		}
		return vi, err
	})
	return t, end, err
}

// timeLayouts are tried, in order, after the fast path for "2006-01-02T15:04:05Z". Parsing
// accepts fractional seconds after the seconds field even where a layout does not show them.
var timeLayouts = []string{
	time.RFC3339,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"20060102T150405Z07:00",
	"20060102T150405",
}

// parseTime parses a CloudTrail timestamp (eventTime, creationDate) into UTC. A time without a
// zone is taken as UTC.
func parseTime(v string) (time.Time, bool) {
	if len(v) == 20 && v[4] == '-' && v[7] == '-' && v[10] == 'T' && v[13] == ':' && v[16] == ':' && v[19] == 'Z' {
		y, ok1 := digits(v[0:4])
		mo, ok2 := digits(v[5:7])
		d, ok3 := digits(v[8:10])
		h, ok4 := digits(v[11:13])
		mi, ok5 := digits(v[14:16])
		se, ok6 := digits(v[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && h < 24 && mi < 60 && se < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
			if d >= 1 && t.Day() == d {
				return t, true
			}
		}
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// keyIndex finds repeated keys of a Map: by linear search while the map is small, through a
// hash index once it is not, so a record with many keys costs linear time.
type keyIndex struct{ idx map[string]int }

const keyIndexMin = 32

func (x *keyIndex) find(m Map, key string) int {
	if x.idx != nil {
		if k, ok := x.idx[key]; ok {
			return k
		}
		return -1
	}
	for k := range m {
		if m[k].Key == key {
			return k
		}
	}
	return -1
}

func (x *keyIndex) add(key string, pos int) {
	if x.idx != nil {
		x.idx[key] = pos
	}
}

// grow switches to the hash index when the map reaches keyIndexMin entries.
func (x *keyIndex) grow(m Map) {
	if x.idx == nil && len(m) >= keyIndexMin {
		x.idx = make(map[string]int, 2*len(m))
		for k, kv := range m {
			x.idx[kv.Key] = k
		}
	}
}

// path names a field for warnings ("userIdentity.sessionContext.attributes.creationDate"); it is
// only turned into a string when a warning needs it.
// path names a field for messages: its key and the path of the object holding it (nil at the
// record's top). It is joined into text only when a message is written — and must be, with
// String, for the path to stay on the stack: decoding a record builds dozens of them.
type path struct {
	up  *path
	key string
}

func (p path) String() string {
	// The text is built anew, never p.key itself: a result that could alias p would make the
	// compiler move every path (and what it points to) to the heap.
	var keys [8]string
	n := 0
	for q := &p; q != nil && n < len(keys); q = q.up {
		keys[n] = q.key
		n++
	}
	var b strings.Builder
	for i := n - 1; i >= 0; i-- {
		b.WriteString(keys[i])
		if i > 0 {
			b.WriteByte('.')
		}
	}
	return b.String()
}
