package ctparquet

import (
	"os"
	"unsafe"

	"github.com/parquet-go/parquet-go"

	"github.com/auditlake/auditlake/internal/lifecycle"
)

// factsColumns are the columns of a facts file, as the engine types the result of facts.sql.
var factsColumns = []struct{ Name, Type string }{
	{"kind", "VARCHAR"}, {"src", "INTEGER"}, {"instance_id", "VARCHAR"}, {"eventtime", "TIMESTAMP"},
	{"eventid", "VARCHAR"}, {"eventname", "VARCHAR"}, {"awsregion", "VARCHAR"}, {"account_id", "VARCHAR"},
	{"principal_arn", "VARCHAR"}, {"issuer_arn", "VARCHAR"}, {"source_identity", "VARCHAR"}, {"invoked_by", "VARCHAR"},
	{"useragent", "VARCHAR"}, {"console", "VARCHAR"}, {"client_token", "VARCHAR"}, {"lt_id", "VARCHAR"},
	{"lt_name", "VARCHAR"}, {"lt_version", "VARCHAR"}, {"tags", "VARCHAR"}, {"lifecycle", "VARCHAR"},
	{"reason", "VARCHAR"}, {"default_version", "VARCHAR"},
}

var factsSchema = func() *parquet.Schema {
	var root pqGroup
	for _, c := range factsColumns {
		root = append(root, pqField{c.Name, pqNode(c.Name, c.Type)})
	}
	return parquet.NewSchema("duckdb_schema", root)
}()

// WriteFactsFile writes facts as a new Parquet file at path (the engine reads it exactly as
// the files its own COPY of facts.sql writes). A failed write removes the file.
func WriteFactsFile(path string, facts []lifecycle.Fact) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	pw := parquet.NewWriter(f, factsSchema, parquet.Compression(zstdCodec), parquet.CreatedBy("auditlake", "1", "parquet-go"))
	rows := make([]parquet.Row, len(facts))
	for i := range facts {
		rows[i] = factRow(&facts[i])
	}
	if _, err := pw.WriteRows(rows); err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// factRow is fact's values, in the order of factsColumns.
func factRow(fc *lifecycle.Fact) parquet.Row {
	row := make(parquet.Row, 0, len(factsColumns))
	str := func(s *string) {
		if s == nil {
			row = append(row, parquet.Value{}.Level(0, 0, len(row)))
		} else {
			row = append(row, parquet.ByteArrayValue(bytesOf(*s)).Level(0, 1, len(row)))
		}
	}
	kind := fc.Kind
	str(&kind)
	if fc.Src == nil {
		row = append(row, parquet.Value{}.Level(0, 0, len(row)))
	} else {
		row = append(row, parquet.Int32Value(*fc.Src).Level(0, 1, len(row)))
	}
	str(fc.InstanceID)
	row = append(row, parquet.Int64Value(fc.EventTime.UnixMicro()).Level(0, 1, len(row)))
	eventID := fc.EventID
	str(&eventID)
	for _, s := range []*string{fc.EventName, fc.AWSRegion, fc.AccountID, fc.PrincipalARN, fc.IssuerARN, fc.SourceIdentity,
		fc.InvokedBy, fc.UserAgent, fc.Console, fc.ClientToken, fc.LTID, fc.LTName, fc.LTVersion, fc.Tags, fc.Lifecycle,
		fc.Reason, fc.DefaultVersion} {
		str(s)
	}
	return row
}

// bytesOf is s's bytes without a copy.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
