// Package ctparquet is the CloudTrail Parquet codec: the store schema's columns (schema.go),
// the Parquet schema derived from them (ctparquet.go), data files written from Go column by
// column (ctwrite.go, ctrows.go), EC2 lifecycle facts files (factsparquet.go), and
// concatenation of Parquet files by copying their row groups (concat.go). It holds no policy:
// which records go in which file, and which files are merged, is package lake's.
package ctparquet

import "strings"

// CloudTrailColumns is the CloudTrail Lake event data store schema (aws-formats.md §1.2) as
// DuckDB column definitions, in the order Lake lists them. Parquet files of a CloudTrail store
// hold exactly these columns. useridentity adds credentialid (present in current records);
// tlsdetails adds keyexchange. Both are optional extras the Lake doc does not list yet.
var CloudTrailColumns = []struct{ Name, Type string }{
	{"eventversion", "VARCHAR"},
	{"useridentity", `STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, accesskeyid VARCHAR, username VARCHAR, ` +
		`sessioncontext STRUCT(attributes STRUCT(creationdate TIMESTAMP, mfaauthenticated VARCHAR), ` +
		`sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR), ` +
		`webidfederationdata STRUCT(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR)), ` +
		`sourceidentity VARCHAR, ec2roledelivery VARCHAR, ec2issuedinvpc VARCHAR), ` +
		`invokedby VARCHAR, identityprovider VARCHAR, credentialid VARCHAR, ` +
		`onbehalfof STRUCT(userid VARCHAR, identitystorearn VARCHAR), ` +
		`inscopeof STRUCT(sourcearn VARCHAR, sourceaccount VARCHAR, issuertype VARCHAR, credentialsissuedto VARCHAR))`},
	{"eventtime", "TIMESTAMP"},
	{"eventsource", "VARCHAR"},
	{"eventname", "VARCHAR"},
	{"awsregion", "VARCHAR"},
	{"sourceipaddress", "VARCHAR"},
	{"useragent", "VARCHAR"},
	{"errorcode", "VARCHAR"},
	{"errormessage", "VARCHAR"},
	{"requestparameters", "MAP(VARCHAR, VARCHAR)"},
	{"responseelements", "MAP(VARCHAR, VARCHAR)"},
	{"additionaleventdata", "MAP(VARCHAR, VARCHAR)"},
	{"requestid", "VARCHAR"},
	{"eventid", "VARCHAR"},
	{"readonly", "BOOLEAN"},
	{"resources", "STRUCT(accountid VARCHAR, type VARCHAR, arn VARCHAR, arnprefix VARCHAR)[]"},
	{"eventtype", "VARCHAR"},
	{"apiversion", "VARCHAR"},
	{"managementevent", "BOOLEAN"},
	{"recipientaccountid", "VARCHAR"},
	{"sharedeventid", "VARCHAR"},
	{"annotation", "VARCHAR"},
	{"vpcendpointid", "VARCHAR"},
	{"vpcendpointaccountid", "VARCHAR"},
	{"serviceeventdetails", "MAP(VARCHAR, VARCHAR)"},
	{"addendum", "MAP(VARCHAR, VARCHAR)"},
	{"edgedevicedetails", "MAP(VARCHAR, VARCHAR)"},
	{"insightdetails", "MAP(VARCHAR, VARCHAR)"},
	{"eventcategory", "VARCHAR"},
	{"tlsdetails", "STRUCT(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR, keyexchange VARCHAR)"},
	{"sessioncredentialfromconsole", "VARCHAR"},
	{"eventjson", "VARCHAR"},
	{"eventjsonchecksum", "VARCHAR"},
}

// CloudTrailDDL returns the column list "(name TYPE, …)" of the store schema.
func CloudTrailDDL() string {
	s := "("
	for i, c := range CloudTrailColumns {
		if i > 0 {
			s += ", "
		}
		s += c.Name + " " + c.Type
	}
	return s + ")"
}

// normColumns are the Lake columns carried inside norm: all but the typed staging columns.
var normColumns = func() []struct{ Name, Type string } {
	var out []struct{ Name, Type string }
	for _, c := range CloudTrailColumns {
		switch c.Name {
		case "eventid", "recipientaccountid", "eventtime", "eventjson", "eventjsonchecksum":
			continue
		}
		out = append(out, c)
	}
	return out
}()

// NormStructure is the json_transform structure of the Lake columns other than eventid,
// recipientaccountid, eventtime, eventjson and eventjsonchecksum, as one JSON object keyed by
// column name, derived from CloudTrailColumns: the engine's reference conversion of a record,
// which the tests hold the Go Parquet writer to.
var NormStructure = func() string {
	s := "{"
	for i, c := range normColumns {
		if i > 0 {
			s += ","
		}
		s += `"` + c.Name + `":` + Structure(c.Type)
	}
	return s + "}"
}()

// structure converts a DuckDB type to json_transform's structure notation: STRUCT(a T, …) →
// {"a": …}, T[] → [T], any other type → "T".
func Structure(t string) string {
	t = strings.TrimSpace(t)
	if strings.HasSuffix(t, "[]") {
		return "[" + Structure(t[:len(t)-2]) + "]"
	}
	if inner, ok := strings.CutPrefix(t, "STRUCT("); ok {
		inner = strings.TrimSuffix(inner, ")")
		s := "{"
		for i, f := range splitTop(inner) {
			name, typ, _ := strings.Cut(strings.TrimSpace(f), " ")
			if i > 0 {
				s += ","
			}
			s += `"` + name + `":` + Structure(typ)
		}
		return s + "}"
	}
	return `"` + t + `"`
}

// splitTop splits s at commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
