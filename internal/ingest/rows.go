package ingest

import (
	"database/sql/driver"

	"github.com/auditlake/auditlake/internal/cloudtrail"
	"github.com/auditlake/auditlake/internal/engine"
)

// rowValues converts a record to the staging table's column values, in lake.CloudTrailColumns
// order (map columns staged as lists of {k, v} so their key order survives).
func rowValues(r *cloudtrail.Record) []driver.Value {
	return []driver.Value{
		str(r.EventVersion),
		userIdentity(r.UserIdentity),
		r.EventTime,
		str(r.EventSource),
		str(r.EventName),
		str(r.AWSRegion),
		str(r.SourceIPAddress),
		str(r.UserAgent),
		str(r.ErrorCode),
		str(r.ErrorMessage),
		kvList(r.RequestParameters),
		kvList(r.ResponseElements),
		kvList(r.AdditionalEventData),
		str(r.RequestID),
		r.EventID,
		boolean(r.ReadOnly),
		resources(r.Resources),
		str(r.EventType),
		str(r.APIVersion),
		boolean(r.ManagementEvent),
		str(r.RecipientAccountID),
		str(r.SharedEventID),
		str(r.Annotation),
		str(r.VPCEndpointID),
		str(r.VPCEndpointAccountID),
		kvList(r.ServiceEventDetails),
		kvList(r.Addendum),
		kvList(r.EdgeDeviceDetails),
		kvList(r.InsightDetails),
		str(r.EventCategory),
		tls(r.TLSDetails),
		str(r.SessionCredentialFromConsole),
		r.EventJSON,
		r.EventJSONChecksum,
	}
}

func str(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func boolean(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func kvList(m cloudtrail.Map) any {
	if m == nil {
		return nil
	}
	out := make([]any, len(m))
	for i, kv := range m {
		out[i] = map[string]any{"k": kv.Key, "v": str(kv.Value)}
	}
	return out
}

func resources(rs []cloudtrail.Resource) any {
	if rs == nil {
		return nil
	}
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = map[string]any{"accountid": str(r.AccountID), "type": str(r.Type), "arn": str(r.ARN), "arnprefix": str(r.ARNPrefix)}
	}
	return out
}

func tls(t *cloudtrail.TLSDetails) any {
	if t == nil {
		return nil
	}
	return map[string]any{"tlsversion": str(t.TLSVersion), "ciphersuite": str(t.CipherSuite),
		"clientprovidedhostheader": str(t.ClientProvidedHostHeader), "keyexchange": str(t.KeyExchange)}
}

func userIdentity(u *cloudtrail.UserIdentity) any {
	if u == nil {
		return nil
	}
	return map[string]any{
		"type": str(u.Type), "principalid": str(u.PrincipalID), "arn": str(u.ARN), "accountid": str(u.AccountID),
		"accesskeyid": str(u.AccessKeyID), "username": str(u.UserName),
		"sessioncontext": sessionContext(u.SessionContext),
		"invokedby":      str(u.InvokedBy), "identityprovider": str(u.IdentityProvider), "credentialid": str(u.CredentialID),
		"onbehalfof": onBehalfOf(u.OnBehalfOf), "inscopeof": inScopeOf(u.InScopeOf),
	}
}

func sessionContext(s *cloudtrail.SessionContext) any {
	if s == nil {
		return nil
	}
	var attrs, issuer, web any
	if a := s.Attributes; a != nil {
		var cd any
		if a.CreationDate != nil {
			cd = *a.CreationDate
		}
		attrs = map[string]any{"creationdate": cd, "mfaauthenticated": str(a.MFAAuthenticated)}
	}
	if i := s.SessionIssuer; i != nil {
		issuer = map[string]any{"type": str(i.Type), "principalid": str(i.PrincipalID), "arn": str(i.ARN),
			"accountid": str(i.AccountID), "username": str(i.UserName)}
	}
	if w := s.WebIDFederationData; w != nil {
		var attrMap any
		if w.Attributes != nil {
			m := engine.Map{}
			for _, kv := range w.Attributes {
				m[kv.Key] = str(kv.Value)
			}
			attrMap = m
		}
		web = map[string]any{"federatedprovider": str(w.FederatedProvider), "attributes": attrMap}
	}
	return map[string]any{"attributes": attrs, "sessionissuer": issuer, "webidfederationdata": web,
		"sourceidentity": str(s.SourceIdentity), "ec2roledelivery": str(s.EC2RoleDelivery), "ec2issuedinvpc": str(s.EC2IssuedInVPC)}
}

func onBehalfOf(o *cloudtrail.OnBehalfOf) any {
	if o == nil {
		return nil
	}
	return map[string]any{"userid": str(o.UserID), "identitystorearn": str(o.IdentityStoreARN)}
}

func inScopeOf(o *cloudtrail.InScopeOf) any {
	if o == nil {
		return nil
	}
	return map[string]any{"sourcearn": str(o.SourceARN), "sourceaccount": str(o.SourceAccount),
		"issuertype": str(o.IssuerType), "credentialsissuedto": str(o.CredentialsIssuedTo)}
}
