package lake

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

// mapColumns are stored as MAP(VARCHAR, VARCHAR) but staged as lists of key/value structs so
// that the record's key order survives (a Go map would lose it).
var mapColumns = map[string]bool{
	"requestparameters": true, "responseelements": true, "additionaleventdata": true,
	"serviceeventdetails": true, "addendum": true, "edgedevicedetails": true, "insightdetails": true,
}

// CloudTrailDDL returns the column list "(name TYPE, …)" of the store schema.
func CloudTrailDDL() string { return ddl(false) }

// stagingDDL is the column list of the staging table: map columns as lists of {k, v} structs.
func stagingDDL() string { return ddl(true) }

func ddl(staging bool) string {
	s := "("
	for i, c := range CloudTrailColumns {
		if i > 0 {
			s += ", "
		}
		t := c.Type
		if staging && mapColumns[c.Name] {
			t = "STRUCT(k VARCHAR, v VARCHAR)[]"
		}
		s += c.Name + " " + t
	}
	return s + ")"
}

// selectFromStaging converts staged rows to the store schema (lists of k/v to maps).
func selectFromStaging() string {
	s := ""
	for i, c := range CloudTrailColumns {
		if i > 0 {
			s += ", "
		}
		switch {
		case mapColumns[c.Name]:
			s += "CASE WHEN " + c.Name + " IS NULL THEN NULL ELSE map_from_entries(list_transform(" + c.Name + ", e -> {'key': e.k, 'value': e.v})) END AS " + c.Name
		default:
			s += c.Name
		}
	}
	return s
}
