package sigma

import (
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// Event is one decoded CloudTrail record as the Go matcher (Rule.Match) reads it: the record,
// and its JSON text parsed once, on the first rule that needs it.
type Event struct {
	R      *cloudtrail.Record
	root   *jnode
	parsed bool
	vals   []string
}

// Reset makes e read record r.
func (e *Event) Reset(r *cloudtrail.Record) {
	e.R, e.root, e.parsed = r, nil, false
}

// eventJSON is the record's JSON text parsed; nil when it is not valid JSON (unknown).
func (e *Event) eventJSON() *jnode {
	if !e.parsed {
		e.parsed = true
		e.root, _ = parseJSON(e.R.EventJSON)
	}
	return e.root
}

// state of a value read for the Go matcher.
const (
	stNull    int8 = iota // missing or null
	stValue               // a value
	stUnknown             // the value the engine reads cannot be told exactly here
)

// goField reads a field's values from an event as package sigma's SQL reads them (field):
// out holds the non-null values; unknown is set when some value could not be told exactly.
type goField interface {
	values(ev *Event, out []string) (vals []string, unknown bool)
}

// scalarField is a column or struct field.
type scalarField func(r *cloudtrail.Record) (string, int8)

func (f scalarField) values(ev *Event, out []string) ([]string, bool) {
	v, st := f(ev.R)
	switch st {
	case stValue:
		return append(out, v), false
	case stUnknown:
		return out, true
	}
	return out, false
}

// mapField is a map column's value under key: a JSON array's elements (nested arrays left
// out), else the value itself (mapValue).
type mapField struct {
	get func(r *cloudtrail.Record) cloudtrail.Map
	key string
}

// mapLookup is m[key] as the engine reads it; a key held twice is unknown.
func mapLookup(m cloudtrail.Map, key string) (string, int8) {
	var v *string
	found := false
	for i := range m {
		if m[i].Key == key {
			if found {
				return "", stUnknown
			}
			found, v = true, m[i].Value
		}
	}
	if v == nil {
		return "", stNull
	}
	return *v, stValue
}

func (f mapField) values(ev *Event, out []string) ([]string, bool) {
	v, st := mapLookup(f.get(ev.R), f.key)
	switch st {
	case stNull:
		return out, false
	case stUnknown:
		return out, true
	}
	if firstNonSpace(v) != '[' {
		return append(out, v), false
	}
	n, ok := parseJSON(v)
	if !ok {
		return out, true
	}
	return scalarTexts([]*jnode{n}, true, out)
}

func firstNonSpace(s string) byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return s[i]
		}
	}
	return 0
}

// scalarTexts appends the texts of nodes (of each one's elements, when elements) that are not
// arrays, nulls left out.
func scalarTexts(nodes []*jnode, elements bool, out []string) ([]string, bool) {
	unknown := false
	for _, n := range nodes {
		items := []*jnode{n}
		if elements {
			items = n.elems
		}
		for _, e := range items {
			if e.kind == 'a' {
				continue
			}
			s, null, ok := e.text()
			switch {
			case !ok:
				unknown = true
			case !null:
				out = append(out, s)
			}
		}
	}
	return out, unknown
}

// jsonField reads path segs from JSON text, each level (and the root, when rootArray) an
// array or not (jsonValues): from the record's JSON (mapGet nil), or from a map column's value
// under mapKey.
type jsonField struct {
	mapGet    func(r *cloudtrail.Record) cloudtrail.Map
	mapKey    string
	segs      []string
	rootArray bool
}

func (f jsonField) values(ev *Event, out []string) ([]string, bool) {
	var root *jnode
	if f.mapGet == nil {
		if root = ev.eventJSON(); root == nil {
			return out, true
		}
	} else {
		v, st := mapLookup(f.mapGet(ev.R), f.mapKey)
		switch st {
		case stNull:
			return out, false
		case stUnknown:
			return out, true
		}
		n, ok := parseJSON(v)
		if !ok {
			// Not JSON to this parser: no value, unless the engine might read it as JSON.
			c := firstNonSpace(v)
			return out, c == '[' || c == '{'
		}
		root = n
	}
	positions := len(f.segs)
	if f.rootArray {
		positions++
	}
	unknown := false
	var cur, next []*jnode
	for bits := 0; bits < 1<<positions; bits++ {
		cur = append(cur[:0], root)
		pos := 0
		step := func() {
			if bits&(1<<pos) != 0 {
				next = next[:0]
				for _, n := range cur {
					if n.kind == 'a' {
						next = append(next, n.elems...)
					}
				}
				cur, next = next, cur
			}
			pos++
		}
		if f.rootArray {
			step()
		}
		for _, s := range f.segs {
			next = next[:0]
			for _, n := range cur {
				if n.kind != 'o' {
					continue
				}
				for i, k := range n.keys {
					if k == s {
						next = append(next, n.elems[i])
						break
					}
				}
			}
			cur, next = next, cur
			step()
		}
		var u bool
		out, u = scalarTexts(cur, false, out)
		unknown = unknown || u
	}
	return out, unknown
}

func str(p *string) (string, int8) {
	if p == nil {
		return "", stNull
	}
	return *p, stValue
}

func boolText(p *bool) (string, int8) {
	switch {
	case p == nil:
		return "", stNull
	case *p:
		return "true", stValue
	}
	return "false", stValue
}

// timeText is a timestamp as the SQL reads it (strftime %Y-%m-%dT%H:%M:%SZ of the stored
// microseconds); a year outside 1000-9999 is unknown.
func timeText(t time.Time) (string, int8) {
	t = t.UTC()
	if y := t.Year(); y < 1000 || y > 9999 {
		return "", stUnknown
	}
	return t.Format("2006-01-02T15:04:05Z"), stValue
}

func ui(r *cloudtrail.Record) *cloudtrail.UserIdentity {
	if r.UserIdentity == nil {
		return &cloudtrail.UserIdentity{}
	}
	return r.UserIdentity
}

func sc(r *cloudtrail.Record) *cloudtrail.SessionContext {
	if u := ui(r); u.SessionContext != nil {
		return u.SessionContext
	}
	return &cloudtrail.SessionContext{}
}

func issuer(r *cloudtrail.Record) *cloudtrail.SessionIssuer {
	if s := sc(r); s.SessionIssuer != nil {
		return s.SessionIssuer
	}
	return &cloudtrail.SessionIssuer{}
}

func webID(r *cloudtrail.Record) *cloudtrail.WebIDFederationData {
	if s := sc(r); s.WebIDFederationData != nil {
		return s.WebIDFederationData
	}
	return &cloudtrail.WebIDFederationData{}
}

func onBehalf(r *cloudtrail.Record) *cloudtrail.OnBehalfOf {
	if u := ui(r); u.OnBehalfOf != nil {
		return u.OnBehalfOf
	}
	return &cloudtrail.OnBehalfOf{}
}

func inScope(r *cloudtrail.Record) *cloudtrail.InScopeOf {
	if u := ui(r); u.InScopeOf != nil {
		return u.InScopeOf
	}
	return &cloudtrail.InScopeOf{}
}

func tls(r *cloudtrail.Record) *cloudtrail.TLSDetails {
	if r.TLSDetails != nil {
		return r.TLSDetails
	}
	return &cloudtrail.TLSDetails{}
}

// goScalars are the Go readers of the store's scalar columns and struct fields, by their
// lowercase dotted path: what the record holds is what its data file stores.
var goScalars = map[string]scalarField{
	"eventversion":                 func(r *cloudtrail.Record) (string, int8) { return str(r.EventVersion) },
	"eventtime":                    func(r *cloudtrail.Record) (string, int8) { return timeText(r.EventTime) },
	"eventsource":                  func(r *cloudtrail.Record) (string, int8) { return str(r.EventSource) },
	"eventname":                    func(r *cloudtrail.Record) (string, int8) { return str(r.EventName) },
	"awsregion":                    func(r *cloudtrail.Record) (string, int8) { return str(r.AWSRegion) },
	"sourceipaddress":              func(r *cloudtrail.Record) (string, int8) { return str(r.SourceIPAddress) },
	"useragent":                    func(r *cloudtrail.Record) (string, int8) { return str(r.UserAgent) },
	"errorcode":                    func(r *cloudtrail.Record) (string, int8) { return str(r.ErrorCode) },
	"errormessage":                 func(r *cloudtrail.Record) (string, int8) { return str(r.ErrorMessage) },
	"requestid":                    func(r *cloudtrail.Record) (string, int8) { return str(r.RequestID) },
	"eventid":                      func(r *cloudtrail.Record) (string, int8) { return r.EventID, stValue },
	"readonly":                     func(r *cloudtrail.Record) (string, int8) { return boolText(r.ReadOnly) },
	"eventtype":                    func(r *cloudtrail.Record) (string, int8) { return str(r.EventType) },
	"apiversion":                   func(r *cloudtrail.Record) (string, int8) { return str(r.APIVersion) },
	"managementevent":              func(r *cloudtrail.Record) (string, int8) { return boolText(r.ManagementEvent) },
	"recipientaccountid":           func(r *cloudtrail.Record) (string, int8) { return str(r.RecipientAccountID) },
	"sharedeventid":                func(r *cloudtrail.Record) (string, int8) { return str(r.SharedEventID) },
	"annotation":                   func(r *cloudtrail.Record) (string, int8) { return str(r.Annotation) },
	"vpcendpointid":                func(r *cloudtrail.Record) (string, int8) { return str(r.VPCEndpointID) },
	"vpcendpointaccountid":         func(r *cloudtrail.Record) (string, int8) { return str(r.VPCEndpointAccountID) },
	"eventcategory":                func(r *cloudtrail.Record) (string, int8) { return str(r.EventCategory) },
	"sessioncredentialfromconsole": func(r *cloudtrail.Record) (string, int8) { return str(r.SessionCredentialFromConsole) },
	"useridentity.type":            func(r *cloudtrail.Record) (string, int8) { return str(ui(r).Type) },
	"useridentity.principalid":     func(r *cloudtrail.Record) (string, int8) { return str(ui(r).PrincipalID) },
	"useridentity.arn":             func(r *cloudtrail.Record) (string, int8) { return str(ui(r).ARN) },
	"useridentity.accountid":       func(r *cloudtrail.Record) (string, int8) { return str(ui(r).AccountID) },
	"useridentity.accesskeyid":     func(r *cloudtrail.Record) (string, int8) { return str(ui(r).AccessKeyID) },
	"useridentity.username":        func(r *cloudtrail.Record) (string, int8) { return str(ui(r).UserName) },
	"useridentity.invokedby":       func(r *cloudtrail.Record) (string, int8) { return str(ui(r).InvokedBy) },
	"useridentity.identityprovider": func(r *cloudtrail.Record) (string, int8) {
		return str(ui(r).IdentityProvider)
	},
	"useridentity.credentialid": func(r *cloudtrail.Record) (string, int8) { return str(ui(r).CredentialID) },
	"useridentity.sessioncontext.attributes.creationdate": func(r *cloudtrail.Record) (string, int8) {
		if a := sc(r).Attributes; a != nil && a.CreationDate != nil {
			return timeText(*a.CreationDate)
		}
		return "", stNull
	},
	"useridentity.sessioncontext.attributes.mfaauthenticated": func(r *cloudtrail.Record) (string, int8) {
		if a := sc(r).Attributes; a != nil {
			return str(a.MFAAuthenticated)
		}
		return "", stNull
	},
	"useridentity.sessioncontext.sessionissuer.type":        func(r *cloudtrail.Record) (string, int8) { return str(issuer(r).Type) },
	"useridentity.sessioncontext.sessionissuer.principalid": func(r *cloudtrail.Record) (string, int8) { return str(issuer(r).PrincipalID) },
	"useridentity.sessioncontext.sessionissuer.arn":         func(r *cloudtrail.Record) (string, int8) { return str(issuer(r).ARN) },
	"useridentity.sessioncontext.sessionissuer.accountid":   func(r *cloudtrail.Record) (string, int8) { return str(issuer(r).AccountID) },
	"useridentity.sessioncontext.sessionissuer.username":    func(r *cloudtrail.Record) (string, int8) { return str(issuer(r).UserName) },
	"useridentity.sessioncontext.webidfederationdata.federatedprovider": func(r *cloudtrail.Record) (string, int8) {
		return str(webID(r).FederatedProvider)
	},
	"useridentity.sessioncontext.sourceidentity":  func(r *cloudtrail.Record) (string, int8) { return str(sc(r).SourceIdentity) },
	"useridentity.sessioncontext.ec2roledelivery": func(r *cloudtrail.Record) (string, int8) { return str(sc(r).EC2RoleDelivery) },
	"useridentity.sessioncontext.ec2issuedinvpc":  func(r *cloudtrail.Record) (string, int8) { return str(sc(r).EC2IssuedInVPC) },
	"useridentity.onbehalfof.userid":              func(r *cloudtrail.Record) (string, int8) { return str(onBehalf(r).UserID) },
	"useridentity.onbehalfof.identitystorearn":    func(r *cloudtrail.Record) (string, int8) { return str(onBehalf(r).IdentityStoreARN) },
	"useridentity.inscopeof.sourcearn":            func(r *cloudtrail.Record) (string, int8) { return str(inScope(r).SourceARN) },
	"useridentity.inscopeof.sourceaccount":        func(r *cloudtrail.Record) (string, int8) { return str(inScope(r).SourceAccount) },
	"useridentity.inscopeof.issuertype":           func(r *cloudtrail.Record) (string, int8) { return str(inScope(r).IssuerType) },
	"useridentity.inscopeof.credentialsissuedto":  func(r *cloudtrail.Record) (string, int8) { return str(inScope(r).CredentialsIssuedTo) },
	"tlsdetails.tlsversion":                       func(r *cloudtrail.Record) (string, int8) { return str(tls(r).TLSVersion) },
	"tlsdetails.ciphersuite":                      func(r *cloudtrail.Record) (string, int8) { return str(tls(r).CipherSuite) },
	"tlsdetails.clientprovidedhostheader":         func(r *cloudtrail.Record) (string, int8) { return str(tls(r).ClientProvidedHostHeader) },
	"tlsdetails.keyexchange":                      func(r *cloudtrail.Record) (string, int8) { return str(tls(r).KeyExchange) },
}

// goMaps are the Go readers of the store's map columns, by lowercase dotted path.
var goMaps = map[string]func(r *cloudtrail.Record) cloudtrail.Map{
	"requestparameters":   func(r *cloudtrail.Record) cloudtrail.Map { return r.RequestParameters },
	"responseelements":    func(r *cloudtrail.Record) cloudtrail.Map { return r.ResponseElements },
	"additionaleventdata": func(r *cloudtrail.Record) cloudtrail.Map { return r.AdditionalEventData },
	"serviceeventdetails": func(r *cloudtrail.Record) cloudtrail.Map { return r.ServiceEventDetails },
	"addendum":            func(r *cloudtrail.Record) cloudtrail.Map { return r.Addendum },
	"edgedevicedetails":   func(r *cloudtrail.Record) cloudtrail.Map { return r.EdgeDeviceDetails },
	"insightdetails":      func(r *cloudtrail.Record) cloudtrail.Map { return r.InsightDetails },
	"useridentity.sessioncontext.webidfederationdata.attributes": func(r *cloudtrail.Record) cloudtrail.Map {
		return webID(r).Attributes
	},
}

// LookupMap is m[key] as the engine reads a map column: ok false when missing or null, unknown
// when the key is held twice.
func LookupMap(m cloudtrail.Map, key string) (v string, ok, unknown bool) {
	v, st := mapLookup(m, key)
	return v, st == stValue, st == stUnknown
}

// LowerIs says whether lower(s) = want (want lowercase ASCII) as the engine decides it: Unknown
// for text that is not ASCII.
func LowerIs(s, want string) Verdict {
	if !isASCII(s) {
		return Unknown
	}
	return verdict(lowerASCII(s) == want)
}
