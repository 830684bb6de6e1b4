package generate

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// ev is one CloudTrail record before it is written. Byte-slice fields hold pre-encoded JSON;
// a nil req or resp is written as null, a nil extra, resources or sed is left out.
type ev struct {
	version   string
	by        *principal // nil: identity is written by ident
	ident     func(j *jbuf)
	console   bool   // console session: browser agent and sessionCredentialFromConsole
	invokedBy string // a service acting with by's credentials (EC2 Fleet)
	at        time.Time
	source    string
	name      string
	region    string
	ip, ua    string
	errCode   string
	errMsg    string
	req, resp []byte
	extra     []byte
	requestID string // "" with noRequestID: left out
	noReqID   bool
	eventID   string
	readOnly  int8 // 0 absent, 1 true, 2 false
	resources []byte
	eventType string
	mgmt      int8 // 0 absent, 1 true, 2 false
	sed       []byte
	category  string
	tlsHost   string
	recipient string
	sharedID  string
}

// render appends e as one JSON object, with CloudTrail's own key order.
func render(j *jbuf, r *rand.Rand, e *ev) {
	j.obj().ks("eventVersion", e.version)
	switch {
	case e.ident != nil:
		e.ident(j)
	case e.by != nil:
		appendIdentity(j, r, e.by, e.at, e.console)
		if e.invokedBy != "" {
			// Reopen the identity object to add invokedBy (EC2 Fleet launching for its caller).
			j.b = j.b[:len(j.b)-1]
			j.ks("invokedBy", e.invokedBy).end()
		}
	}
	j.kt("eventTime", e.at).ks("eventSource", e.source).ks("eventName", e.name).ks("awsRegion", e.region)
	j.ks("sourceIPAddress", e.ip)
	if e.ua != "" {
		j.ks("userAgent", e.ua)
	}
	if e.errCode != "" {
		j.ks("errorCode", e.errCode)
	}
	if e.errMsg != "" {
		j.ks("errorMessage", e.errMsg)
	}
	j.k("requestParameters")
	if e.req == nil {
		j.null()
	} else {
		j.raw(e.req)
	}
	j.k("responseElements")
	if e.resp == nil || e.errCode != "" {
		j.null()
	} else {
		j.raw(e.resp)
	}
	if e.extra != nil {
		j.k("additionalEventData").raw(e.extra)
	}
	if !e.noReqID {
		j.ks("requestID", e.requestID)
	}
	j.ks("eventID", e.eventID)
	switch e.readOnly {
	case 1:
		j.kb("readOnly", true)
	case 2:
		j.kb("readOnly", false)
	}
	if e.resources != nil {
		j.k("resources").raw(e.resources)
	}
	j.ks("eventType", e.eventType)
	switch e.mgmt {
	case 1:
		j.kb("managementEvent", true)
	case 2:
		j.kb("managementEvent", false)
	}
	j.ks("recipientAccountId", e.recipient)
	if e.sed != nil {
		j.k("serviceEventDetails").raw(e.sed)
	}
	if e.sharedID != "" {
		j.ks("sharedEventID", e.sharedID)
	}
	j.ks("eventCategory", e.category)
	if e.tlsHost != "" {
		j.k("tlsDetails").obj().ks("tlsVersion", "TLSv1.3").ks("cipherSuite", "TLS_AES_128_GCM_SHA256").ks("clientProvidedHostHeader", e.tlsHost).end()
	}
	if e.console {
		j.ks("sessionCredentialFromConsole", "true")
	}
	j.end()
}

// scratch holds reusable buffers for one worker.
type scratch struct {
	req, resp, extra, res, sed jbuf
	id                         []byte
}

func (s *scratch) reset() {
	s.req.b, s.resp.b, s.extra.b, s.res.b, s.sed.b = s.req.b[:0], s.resp.b[:0], s.extra.b[:0], s.res.b[:0], s.sed.b[:0]
}

func (s *scratch) uuid(r *rand.Rand) string {
	s.id = appendUUID(s.id[:0], r)
	return string(s.id)
}

// base fills the fields every API call by p shares.
func base(r *rand.Rand, e *ev, p *principal, source, service, name, region string, at time.Time) {
	*e = ev{version: pick(r, []string{"1.08", "1.09", "1.10", "1.11"}), by: p, at: at, source: source, name: name,
		region: region, eventType: "AwsApiCall", mgmt: 1, category: "Management", recipient: p.account, readOnly: 1}
	e.console = p.agent == agentConsole && p.typ != "Root"
	e.ip = pick(r, p.ips)
	e.ua = p.userAgent(r, service, name, e.console)
	if p.agent != agentService {
		e.tlsHost = service + "." + region + ".amazonaws.com"
	}
}

func epochMillis(t time.Time) int64 { return t.UnixMilli() }

func fmtExpiration(t time.Time) string {
	// STS writes expiration as "Sep 1, 2026, 1:23:45 PM".
	return t.UTC().Format("Jan 2, 2006, 3:04:05 PM")
}

// stringsI converts an int for JSON keys that carry numbers as text.
func itoa(i int) string { return strconv.Itoa(i) }
