package ctparquet

import (
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// rowBuilder appends the values of records to their columns: every leaf column of ctSchema in
// turn (col), each value with its repetition and definition levels. Every optional node adds
// one definition level, a repeated one a repetition and a definition level.
type rowBuilder struct {
	cols []column
	col  int
}

// Leaf counts of the nested columns, from the schema.
var (
	nUserIdentity  = leavesUnder("useridentity.")
	nSessionCtx    = leavesUnder("useridentity.sessioncontext.")
	nSessionAttrs  = leavesUnder("useridentity.sessioncontext.attributes.")
	nSessionIssuer = leavesUnder("useridentity.sessioncontext.sessionissuer.")
	nWebID         = leavesUnder("useridentity.sessioncontext.webidfederationdata.")
	nOnBehalfOf    = leavesUnder("useridentity.onbehalfof.")
	nInScopeOf     = leavesUnder("useridentity.inscopeof.")
	nTLS           = leavesUnder("tlsdetails.")
)

func leavesUnder(prefix string) int {
	n := 0
	for p := range ctColumns {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// nulls ends n leaf columns whose nearest absent ancestor is at definition level def.
func (b *rowBuilder) nulls(n, def int) {
	for i := range n {
		b.cols[b.col+i].null(0, def)
	}
	b.col += n
}

// str writes an optional string leaf whose parent is defined at level def.
func (b *rowBuilder) str(def int, s *string) {
	if s == nil {
		b.cols[b.col].null(0, def)
	} else {
		b.cols[b.col].str(*s, 0, def+1)
	}
	b.col++
}

func (b *rowBuilder) text(def int, s string) {
	b.cols[b.col].str(s, 0, def+1)
	b.col++
}

func (b *rowBuilder) boolean(def int, v *bool) {
	if v == nil {
		b.cols[b.col].null(0, def)
	} else {
		b.cols[b.col].boolean(*v, 0, def+1)
	}
	b.col++
}

func (b *rowBuilder) timestamp(def int, t *time.Time) {
	if t == nil {
		b.cols[b.col].null(0, def)
	} else {
		b.cols[b.col].int64(t.UnixMicro(), 0, def+1)
	}
	b.col++
}

// mapping writes an optional MAP(VARCHAR, VARCHAR) whose parent is defined at level def: its key
// column, then its value column.
func (b *rowBuilder) mapping(def int, m cloudtrail.Map) {
	switch {
	case m == nil:
		b.nulls(2, def)
		return
	case len(m) == 0:
		b.nulls(2, def+1)
		return
	}
	keys, values := &b.cols[b.col], &b.cols[b.col+1]
	for i, kv := range m {
		keys.str(kv.Key, min(i, 1), def+2)
		if kv.Value == nil {
			values.null(min(i, 1), def+2)
		} else {
			values.str(*kv.Value, min(i, 1), def+3)
		}
	}
	b.col += 2
}

// resources writes the top-level resources list: LIST → repeated list → optional element →
// optional fields, each field one column.
func (b *rowBuilder) resources(rs []cloudtrail.Resource) {
	switch {
	case rs == nil:
		b.nulls(4, 0)
		return
	case len(rs) == 0:
		b.nulls(4, 1)
		return
	}
	for f := range 4 {
		c := &b.cols[b.col]
		for i := range rs {
			var s *string
			switch f {
			case 0:
				s = rs[i].AccountID
			case 1:
				s = rs[i].Type
			case 2:
				s = rs[i].ARN
			case 3:
				s = rs[i].ARNPrefix
			}
			if s == nil {
				c.null(min(i, 1), 3)
			} else {
				c.str(*s, min(i, 1), 4)
			}
		}
		b.col++
	}
}

func (b *rowBuilder) userIdentity(u *cloudtrail.UserIdentity) {
	if u == nil {
		b.nulls(nUserIdentity, 0)
		return
	}
	b.str(1, u.Type)
	b.str(1, u.PrincipalID)
	b.str(1, u.ARN)
	b.str(1, u.AccountID)
	b.str(1, u.AccessKeyID)
	b.str(1, u.UserName)
	if sc := u.SessionContext; sc == nil {
		b.nulls(nSessionCtx, 1)
	} else {
		if a := sc.Attributes; a == nil {
			b.nulls(nSessionAttrs, 2)
		} else {
			b.timestamp(3, a.CreationDate)
			b.str(3, a.MFAAuthenticated)
		}
		if si := sc.SessionIssuer; si == nil {
			b.nulls(nSessionIssuer, 2)
		} else {
			b.str(3, si.Type)
			b.str(3, si.PrincipalID)
			b.str(3, si.ARN)
			b.str(3, si.AccountID)
			b.str(3, si.UserName)
		}
		if wf := sc.WebIDFederationData; wf == nil {
			b.nulls(nWebID, 2)
		} else {
			b.str(3, wf.FederatedProvider)
			b.mapping(3, wf.Attributes)
		}
		b.str(2, sc.SourceIdentity)
		b.str(2, sc.EC2RoleDelivery)
		b.str(2, sc.EC2IssuedInVPC)
	}
	b.str(1, u.InvokedBy)
	b.str(1, u.IdentityProvider)
	b.str(1, u.CredentialID)
	if o := u.OnBehalfOf; o == nil {
		b.nulls(nOnBehalfOf, 1)
	} else {
		b.str(2, o.UserID)
		b.str(2, o.IdentityStoreARN)
	}
	if s := u.InScopeOf; s == nil {
		b.nulls(nInScopeOf, 1)
	} else {
		b.str(2, s.SourceARN)
		b.str(2, s.SourceAccount)
		b.str(2, s.IssuerType)
		b.str(2, s.CredentialsIssuedTo)
	}
}

// record appends r's values, in the order of CloudTrailColumns.
func (b *rowBuilder) record(r *cloudtrail.Record) {
	b.str(0, r.EventVersion)
	b.userIdentity(r.UserIdentity)
	b.timestamp(0, &r.EventTime)
	b.str(0, r.EventSource)
	b.str(0, r.EventName)
	b.str(0, r.AWSRegion)
	b.str(0, r.SourceIPAddress)
	b.str(0, r.UserAgent)
	b.str(0, r.ErrorCode)
	b.str(0, r.ErrorMessage)
	b.mapping(0, r.RequestParameters)
	b.mapping(0, r.ResponseElements)
	b.mapping(0, r.AdditionalEventData)
	b.str(0, r.RequestID)
	b.text(0, r.EventID)
	b.boolean(0, r.ReadOnly)
	b.resources(r.Resources)
	b.str(0, r.EventType)
	b.str(0, r.APIVersion)
	b.boolean(0, r.ManagementEvent)
	b.str(0, r.RecipientAccountID)
	b.str(0, r.SharedEventID)
	b.str(0, r.Annotation)
	b.str(0, r.VPCEndpointID)
	b.str(0, r.VPCEndpointAccountID)
	b.mapping(0, r.ServiceEventDetails)
	b.mapping(0, r.Addendum)
	b.mapping(0, r.EdgeDeviceDetails)
	b.mapping(0, r.InsightDetails)
	b.str(0, r.EventCategory)
	if t := r.TLSDetails; t == nil {
		b.nulls(nTLS, 0)
	} else {
		b.str(1, t.TLSVersion)
		b.str(1, t.CipherSuite)
		b.str(1, t.ClientProvidedHostHeader)
		b.str(1, t.KeyExchange)
	}
	b.str(0, r.SessionCredentialFromConsole)
	b.text(0, r.EventJSON)
	if r.EventJSONChecksum == cloudtrail.JSONCut { // a cut text: put back on read
		b.str(0, nil)
	} else {
		b.text(0, r.EventJSONChecksum)
	}
}
