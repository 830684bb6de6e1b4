package ingest

import (
	"database/sql/driver"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// rowValues converts a record to the staging row (lake.StagingColumns): the dedupe key and
// eventtime as typed columns, every other Lake column as one normalised JSON object that the
// engine turns into typed columns with a single vectorised json_transform, and the raw event.
// Handing DuckDB six values per row instead of ~80 nested ones is what makes ingest fast: the
// per-value cgo calls of the appender dominated the profile.
func rowValues(r *cloudtrail.Record, buf []byte) ([]driver.Value, []byte) {
	buf = appendNorm(buf[:0], r)
	return []driver.Value{r.EventID, str(r.RecipientAccountID), r.EventTime, string(buf), r.EventJSON, r.EventJSONChecksum}, buf
}

func str(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// jw appends JSON object members.
type jw struct {
	b     []byte
	first bool
}

// key writes a member name known to need no escaping (the Lake column names).
func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jw) sep() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
}

func (w *jw) open()  { w.b = append(w.b, '{'); w.first = true }
func (w *jw) close() { w.b = append(w.b, '}'); w.first = false }

func (w *jw) str(k string, v *string) {
	if v == nil {
		return // absent is NULL for json_transform
	}
	w.key(k)
	w.b = appendJSONString(w.b, *v)
}

func (w *jw) boolean(k string, v *bool) {
	if v == nil {
		return
	}
	w.key(k)
	w.b = strconv.AppendBool(w.b, *v)
}

func (w *jw) time(k string, t *time.Time) {
	if t == nil {
		return
	}
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, "2006-01-02 15:04:05.999999")
	w.b = append(w.b, '"')
}

func (w *jw) kvmap(k string, m cloudtrail.Map) {
	if m == nil {
		return
	}
	w.key(k)
	w.open()
	for _, kv := range m {
		w.sep()
		w.b = appendJSONString(w.b, kv.Key)
		w.b = append(w.b, ':')
		if kv.Value == nil {
			w.b = append(w.b, "null"...)
		} else {
			w.b = appendJSONString(w.b, *kv.Value)
		}
	}
	w.close()
}

// appendNorm writes the record's Lake columns (all but the raw event) as a JSON object keyed by
// the lowercase column names; the engine's json_transform reads it (lake.NormStructure).
func appendNorm(b []byte, r *cloudtrail.Record) []byte {
	w := &jw{b: b}
	w.open()
	w.str("eventversion", r.EventVersion)
	if u := r.UserIdentity; u != nil {
		w.key("useridentity")
		w.open()
		w.str("type", u.Type)
		w.str("principalid", u.PrincipalID)
		w.str("arn", u.ARN)
		w.str("accountid", u.AccountID)
		w.str("accesskeyid", u.AccessKeyID)
		w.str("username", u.UserName)
		if s := u.SessionContext; s != nil {
			w.key("sessioncontext")
			w.open()
			if a := s.Attributes; a != nil {
				w.key("attributes")
				w.open()
				w.time("creationdate", a.CreationDate)
				w.str("mfaauthenticated", a.MFAAuthenticated)
				w.close()
			}
			if i := s.SessionIssuer; i != nil {
				w.key("sessionissuer")
				w.open()
				w.str("type", i.Type)
				w.str("principalid", i.PrincipalID)
				w.str("arn", i.ARN)
				w.str("accountid", i.AccountID)
				w.str("username", i.UserName)
				w.close()
			}
			if f := s.WebIDFederationData; f != nil {
				w.key("webidfederationdata")
				w.open()
				w.str("federatedprovider", f.FederatedProvider)
				w.kvmap("attributes", f.Attributes)
				w.close()
			}
			w.str("sourceidentity", s.SourceIdentity)
			w.str("ec2roledelivery", s.EC2RoleDelivery)
			w.str("ec2issuedinvpc", s.EC2IssuedInVPC)
			w.close()
		}
		w.str("invokedby", u.InvokedBy)
		w.str("identityprovider", u.IdentityProvider)
		w.str("credentialid", u.CredentialID)
		if o := u.OnBehalfOf; o != nil {
			w.key("onbehalfof")
			w.open()
			w.str("userid", o.UserID)
			w.str("identitystorearn", o.IdentityStoreARN)
			w.close()
		}
		if o := u.InScopeOf; o != nil {
			w.key("inscopeof")
			w.open()
			w.str("sourcearn", o.SourceARN)
			w.str("sourceaccount", o.SourceAccount)
			w.str("issuertype", o.IssuerType)
			w.str("credentialsissuedto", o.CredentialsIssuedTo)
			w.close()
		}
		w.close()
	}
	w.str("eventsource", r.EventSource)
	w.str("eventname", r.EventName)
	w.str("awsregion", r.AWSRegion)
	w.str("sourceipaddress", r.SourceIPAddress)
	w.str("useragent", r.UserAgent)
	w.str("errorcode", r.ErrorCode)
	w.str("errormessage", r.ErrorMessage)
	w.kvmap("requestparameters", r.RequestParameters)
	w.kvmap("responseelements", r.ResponseElements)
	w.kvmap("additionaleventdata", r.AdditionalEventData)
	w.str("requestid", r.RequestID)
	w.boolean("readonly", r.ReadOnly)
	if r.Resources != nil {
		w.key("resources")
		w.b = append(w.b, '[')
		for i, res := range r.Resources {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.open()
			w.str("accountid", res.AccountID)
			w.str("type", res.Type)
			w.str("arn", res.ARN)
			w.str("arnprefix", res.ARNPrefix)
			w.close()
		}
		w.b = append(w.b, ']')
	}
	w.str("eventtype", r.EventType)
	w.str("apiversion", r.APIVersion)
	w.boolean("managementevent", r.ManagementEvent)
	w.str("sharedeventid", r.SharedEventID)
	w.str("annotation", r.Annotation)
	w.str("vpcendpointid", r.VPCEndpointID)
	w.str("vpcendpointaccountid", r.VPCEndpointAccountID)
	w.kvmap("serviceeventdetails", r.ServiceEventDetails)
	w.kvmap("addendum", r.Addendum)
	w.kvmap("edgedevicedetails", r.EdgeDeviceDetails)
	w.kvmap("insightdetails", r.InsightDetails)
	w.str("eventcategory", r.EventCategory)
	if t := r.TLSDetails; t != nil {
		w.key("tlsdetails")
		w.open()
		w.str("tlsversion", t.TLSVersion)
		w.str("ciphersuite", t.CipherSuite)
		w.str("clientprovidedhostheader", t.ClientProvidedHostHeader)
		w.str("keyexchange", t.KeyExchange)
		w.close()
	}
	w.str("sessioncredentialfromconsole", r.SessionCredentialFromConsole)
	w.close()
	return w.b
}

const hex = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 (the decoder already replaces it)
// is written as U+FFFD so that the engine never sees an invalid string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
