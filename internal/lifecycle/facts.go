package lifecycle

import (
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// Fact is one row of the facts: the columns of facts.sql, in its order. A nil pointer is NULL.
type Fact struct {
	Kind           string
	Src            *int32
	InstanceID     *string
	EventTime      time.Time
	EventID        string
	EventName      *string
	AWSRegion      *string
	AccountID      *string
	PrincipalARN   *string
	IssuerARN      *string
	SourceIdentity *string
	InvokedBy      *string
	UserAgent      *string
	Console        *string
	ClientToken    *string
	LTID           *string
	LTName         *string
	LTVersion      *string
	Tags           *string
	Lifecycle      *string
	Reason         *string
	DefaultVersion *string
}

// Of returns the facts of recs: the rows facts.sql gives for the same events (in another order),
// computed from the decoded records without the engine. Ingest uses it for the files it writes;
// TestFactsOfRecordsMatchTheQuery holds the two definitions equal.
func Of(recs []*cloudtrail.Record) []Fact {
	var out []Fact
	for _, r := range recs {
		// The kind's hash first: the decoder cached it in the record, where comparing the
		// source read its text from memory again (1.9 s of a 10M-event load, nearly all for
		// events of other kinds). A hash that matches is checked by the strings below.
		if !slices.Contains(factKinds, r.KindHash()) {
			continue
		}
		if r.ErrorCode != nil || r.EventSource == nil || *r.EventSource != "ec2.amazonaws.com" || r.EventName == nil {
			continue
		}
		if f := factsOf[*r.EventName]; f != nil {
			out = f(out, r)
		}
	}
	return out
}

// factsOf are the facts of each EC2 event name that has some.
var factsOf = map[string]func([]Fact, *cloudtrail.Record) []Fact{
	"RunInstances":                runFacts,
	"CreateFleet":                 fleetFacts,
	"TerminateInstances":          terminateFacts,
	"BidEvictedEvent":             evictionFacts,
	"CreateLaunchTemplate":        templateFacts,
	"CreateLaunchTemplateVersion": templateFacts,
	"ModifyLaunchTemplate":        templateFacts,
}

// factKinds are the KindHashes of the events of factsOf.
var factKinds = func() (h []uint64) {
	for name := range factsOf {
		h = append(h, cloudtrail.KindHashOf("ec2.amazonaws.com", name))
	}
	return h
}()

// identity holds the userIdentity fields the facts use.
type identity struct {
	accountID, arn, issuerARN, issuerUserName, sourceIdentity, invokedBy *string
}

func identityOf(r *cloudtrail.Record) identity {
	var id identity
	u := r.UserIdentity
	if u == nil {
		return id
	}
	id.accountID, id.arn, id.invokedBy = u.AccountID, u.ARN, u.InvokedBy
	if sc := u.SessionContext; sc != nil {
		id.sourceIdentity = sc.SourceIdentity
		if si := sc.SessionIssuer; si != nil {
			id.issuerARN, id.issuerUserName = si.ARN, si.UserName
		}
	}
	return id
}

// base is a fact of r with the columns every kind takes from the event.
func base(kind string, r *cloudtrail.Record) Fact {
	return Fact{Kind: kind, EventTime: r.EventTime, EventID: r.EventID, EventName: r.EventName, AWSRegion: r.AWSRegion}
}

// launch is a launch fact of r (src 0 for RunInstances, 1 for CreateFleet) with the columns
// both take from the event and its identity id.
func launch(r *cloudtrail.Record, id identity, src int32) Fact {
	f := base("launch", r)
	f.Src = &src
	f.AccountID = coalesce(r.RecipientAccountID, id.accountID)
	f.PrincipalARN, f.IssuerARN, f.SourceIdentity, f.InvokedBy = id.arn, id.issuerARN, id.sourceIdentity, id.invokedBy
	f.UserAgent, f.Console = r.UserAgent, r.SessionCredentialFromConsole
	return f
}

func coalesce(vs ...*string) *string {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// mapValue is m[key]: the value as the Lake stores it (a string unquoted, anything else as JSON
// text), nil when the key is missing or the value null.
func mapValue(m cloudtrail.Map, key string) *string {
	for i := len(m) - 1; i >= 0; i-- {
		if m[i].Key == key {
			return m[i].Value
		}
	}
	return nil
}

// mapJSON is m[key] read as JSON; nil when it is missing or not JSON (try() in facts.sql).
func mapJSON(m cloudtrail.Map, key string) *jval {
	v := mapValue(m, key)
	if v == nil {
		return nil
	}
	j, ok := parseJSON(*v)
	if !ok {
		return nil
	}
	return j
}

// items is the item list at v: the elements of an array, or an object as the one item. An
// element that is JSON null is a nil item (a NULL row in facts.sql).
func items(v *jval) []*jval {
	switch {
	case v == nil:
		return nil
	case v.kind == 'a':
		out := make([]*jval, len(v.vals))
		for i, e := range v.vals {
			if e.kind != 'z' {
				out[i] = e
			}
		}
		return out
	case v.kind == 'o':
		return []*jval{v}
	}
	return nil
}

func runFacts(out []Fact, r *cloudtrail.Record) []Fact {
	if r.ResponseElements == nil {
		return out
	}
	id := identityOf(r)
	lt := mapJSON(r.RequestParameters, "launchTemplate")
	for _, item := range items(mapJSON(r.ResponseElements, "instancesSet").get("items")) {
		f := launch(r, id, 0)
		f.InstanceID = item.get("instanceId").extractString()
		f.ClientToken = mapValue(r.RequestParameters, "clientToken")
		f.LTID = lt.get("launchTemplateId").extractString()
		f.LTName = lt.get("launchTemplateName").extractString()
		f.LTVersion = lt.get("version").extractString()
		f.Tags = item.get("tagSet", "items").extractText()
		f.Lifecycle = item.get("instanceLifecycle").extractString()
		out = append(out, f)
	}
	return out
}

func fleetFacts(out []Fact, r *cloudtrail.Record) []Fact {
	if r.ResponseElements == nil {
		return out
	}
	id := identityOf(r)
	resp := mapJSON(r.ResponseElements, "CreateFleetResponse")
	req := mapJSON(r.RequestParameters, "CreateFleetRequest")
	token := "fleet:"
	if fid := resp.get("fleetId").extractString(); fid != nil {
		token += *fid
	}
	spec := req.get("LaunchTemplateConfigs", "LaunchTemplateSpecification")
	spec0 := req.get("LaunchTemplateConfigs").index(0).get("LaunchTemplateSpecification")
	for _, fi := range items(resp.get("fleetInstanceSet", "item")) {
		var ids []*string
		switch v := fi.get("instanceIds", "item"); {
		case v == nil:
		case v.kind == 'a':
			for _, e := range v.vals {
				if e.kind == 's' {
					ids = append(ids, &e.str)
				}
			}
		case v.kind == 's':
			ids = append(ids, &v.str)
		}
		fs := fi.get("launchTemplateAndOverrides", "launchTemplateSpecification")
		for _, iid := range ids {
			f := launch(r, id, 1)
			f.InstanceID = iid
			f.ClientToken = &token
			f.LTID = coalesce(fs.get("launchTemplateId").extractString(), spec.get("LaunchTemplateId").extractString(), spec0.get("LaunchTemplateId").extractString())
			f.LTName = coalesce(fs.get("launchTemplateName").extractString(), spec.get("LaunchTemplateName").extractString(), spec0.get("LaunchTemplateName").extractString())
			f.LTVersion = coalesce(fs.get("version").extractString(), spec.get("Version").extractString(), spec0.get("Version").extractString())
			f.Lifecycle = fi.get("lifecycle").extractString()
			out = append(out, f)
		}
	}
	return out
}

func terminateFacts(out []Fact, r *cloudtrail.Record) []Fact {
	if r.ResponseElements == nil {
		return out
	}
	id := identityOf(r)
	reason := "TerminateInstances by "
	switch {
	case eq(id.invokedBy, "autoscaling.amazonaws.com") || eq(r.UserAgent, "autoscaling.amazonaws.com") ||
		eq(id.issuerUserName, "AWSServiceRoleForAutoScaling"):
		reason = "Auto Scaling scale-in"
	case id.arn != nil:
		reason += *id.arn
	case id.invokedBy != nil:
		reason += *id.invokedBy
	default:
		reason += "unknown"
	}
	for _, it := range items(mapJSON(r.ResponseElements, "instancesSet").get("items")) {
		f := base("end", r)
		f.InstanceID = it.get("instanceId").extractString()
		f.AccountID = coalesce(r.RecipientAccountID, id.accountID)
		f.PrincipalARN, f.IssuerARN, f.InvokedBy, f.UserAgent = id.arn, id.issuerARN, id.invokedBy, r.UserAgent
		f.Reason = &reason
		out = append(out, f)
	}
	return out
}

func eq(s *string, v string) bool { return s != nil && *s == v }

func evictionFacts(out []Fact, r *cloudtrail.Record) []Fact {
	if r.ServiceEventDetails == nil {
		return out
	}
	v := mapValue(r.ServiceEventDetails, "instanceIdSet")
	if v == nil {
		return out
	}
	ids, ok := varcharList(*v)
	if !ok {
		return out
	}
	reason := "Spot interruption (BidEvictedEvent)"
	for _, iid := range ids {
		f := base("end", r)
		f.InstanceID = iid
		f.AccountID = r.RecipientAccountID
		f.Reason = &reason
		out = append(out, f)
	}
	return out
}

// varcharList is what the engine's cast of s to VARCHAR[] gives, for the text CloudTrail puts
// there (a JSON array of strings, numbers or nulls); other text (escaped or nested values, not
// an array) gives false, as a failed TRY_CAST does for nearly all of it.
func varcharList(s string) ([]*string, bool) {
	v, ok := parseJSON(s)
	if !ok || v.kind != 'a' || strings.Contains(s, `\`) {
		return nil, false
	}
	out := make([]*string, len(v.vals))
	for i, e := range v.vals {
		switch e.kind {
		case 's', 'n':
			out[i] = &e.str
		case 'z':
		default:
			return nil, false
		}
	}
	return out, true
}

func templateFacts(out []Fact, r *cloudtrail.Record) []Fact {
	if r.ResponseElements == nil {
		return out
	}
	id := identityOf(r)
	create := mapJSON(r.ResponseElements, "CreateLaunchTemplateResponse").get("launchTemplate")
	version := mapJSON(r.ResponseElements, "CreateLaunchTemplateVersionResponse").get("launchTemplateVersion")
	modify := mapJSON(r.ResponseElements, "ModifyLaunchTemplateResponse").get("launchTemplate")
	plain := mapJSON(r.ResponseElements, "launchTemplate")
	f := base("template", r)
	f.AccountID = coalesce(r.RecipientAccountID, id.accountID)
	f.PrincipalARN = id.arn
	f.LTID = coalesce(create.get("launchTemplateId").extractString(), version.get("launchTemplateId").extractString(),
		modify.get("launchTemplateId").extractString(), plain.get("launchTemplateId").extractString())
	f.LTName = coalesce(create.get("launchTemplateName").extractString(), version.get("launchTemplateName").extractString(),
		modify.get("launchTemplateName").extractString(), plain.get("launchTemplateName").extractString())
	f.LTVersion = coalesce(create.get("latestVersionNumber").extractString(), version.get("versionNumber").extractString(),
		plain.get("latestVersionNumber").extractString())
	var newDefault *string
	if eq(version.get("defaultVersion").extractString(), "true") {
		newDefault = version.get("versionNumber").extractString()
	}
	f.DefaultVersion = coalesce(create.get("defaultVersionNumber").extractString(), modify.get("defaultVersionNumber").extractString(),
		mapJSON(r.RequestParameters, "ModifyLaunchTemplateRequest").get("SetDefaultVersion").extractString(), newDefault)
	return append(out, f)
}
