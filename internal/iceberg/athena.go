package iceberg

import (
	"context"
	"errors"
	"fmt"
	"strings"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/lake"
)

// TableInfo is what eds show says of a store's table.
type TableInfo struct {
	Table      string `json:"table"`
	SnapshotID int64  `json:"snapshot_id,omitempty"`
	Snapshots  int    `json:"snapshots"`
	Files      int    `json:"files"`
	Bytes      int64  `json:"bytes"`
	Location   string `json:"metadata_location"`
	// rels are the store-relative paths of the snapshot's files (Follows).
	rels map[string]bool
}

// Follows says whether the table's current snapshot holds exactly m's live files: false when a
// sync was cut off (a crash between the store's commit and the table's) or has not run yet.
func (i TableInfo) Follows(m *lake.Manifest) bool {
	if len(i.rels) != len(m.Files) {
		return false
	}
	for _, f := range m.Files {
		if !i.rels[f.Path] {
			return false
		}
	}
	return true
}

// Describe is the table of store st as its current snapshot stands; ok is false when the store
// has no table yet (no file since the catalog was set, or the table its name maps to is still
// another store's: owner.go).
func Describe(ctx context.Context, cat catalog.Catalog, st lake.Store) (info TableInfo, ok bool, err error) {
	info.Table = Namespace + "." + TableName(st.Name)
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier(Namespace, TableName(st.Name)))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return info, false, nil
	}
	if err != nil {
		return info, false, err
	}
	if owner := tbl.Properties()["auditlake.store-id"]; owner != "" && owner != st.ID {
		return info, false, nil // another store's (owner.go): st has no table yet
	}
	info.Location = tbl.MetadataLocation()
	info.Snapshots = len(tbl.Metadata().Snapshots())
	if s := tbl.CurrentSnapshot(); s != nil {
		info.SnapshotID = s.SnapshotID
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return info, true, err
		}
		info.rels = make(map[string]bool, len(tasks))
		for _, t := range tasks {
			info.Files++
			info.Bytes += t.File.FileSizeBytes()
			// A file's path is the store directory's or the publication's, then data/…
			if p := t.File.FilePath(); strings.LastIndex(p, "/data/") >= 0 {
				info.rels[p[strings.LastIndex(p, "/data/")+1:]] = true
			}
		}
	}
	return info, true, nil
}

// athenaJSON puts back the ids of a cold file of the first cold format, written in Athena's
// SQL (Trino's replace, chr and coalesce are DuckDB's). A published store's files hold whole
// eventjson (lake: WholeJSON), so no file Athena reads needs more.
var athenaJSON = ctparquet.IDsJSONSQL

// AthenaDDL is the DDL that makes store st's table readable in Athena without Glue access to
// auditlake's catalog: the Iceberg table over location (where the store's table is published),
// a view named after the store's id (Athena cannot parse "aws:cloudtrail"."<id>", so queries
// written for CloudTrail Lake name auditlake.eds_<id with _> instead), and, for users who want
// plain Parquet, an external table with partition projection over the data files by day.
func AthenaDDL(tbl *table.Table, st lake.Store, location string) (string, error) {
	location = strings.TrimSuffix(location, "/")
	if !strings.HasPrefix(location, "s3://") {
		return "", fmt.Errorf("athena ddl: %q is not an s3:// location", location)
	}
	if strings.ContainsAny(location, `'\`) {
		// The DDL's string literals hold it as it is; Athena's DDL has no one escape for both.
		return "", fmt.Errorf("athena ddl: location %q holds a quote or a backslash, which the DDL cannot hold", location)
	}
	// Only a CloudTrail store's files can hold a cut eventjson (and a checksum to derive); a
	// Config or activity store has neither the checksum nor the id columns athenaJSON reads.
	_, cut := tbl.Schema().FindFieldByName("eventjsonchecksum")
	var cols, sel []string
	for _, f := range tbl.Schema().Fields() {
		switch {
		case f.Name == "eventjsonchecksum":
			// Closed days' files do not store it (null), nor hot files ingested before the
			// store was published ("") (package ctparquet: it is the SHA-256 of eventjson,
			// derived on read); the view derives it as auditlake's own views do.
			sel = append(sel, `coalesce(nullif(eventjsonchecksum, ''), lower(to_hex(sha256(to_utf8(`+athenaJSON+`))))) AS eventjsonchecksum`)
		case f.Name == "eventjson" && cut:
			// Closed days' files store it without the values of ctparquet.CutColumns.
			sel = append(sel, athenaJSON+` AS eventjson`)
		default:
			sel = append(sel, `"`+f.Name+`"`)
		}
		t, err := hiveType(f.Type)
		if err != nil {
			return "", fmt.Errorf("athena ddl: column %s: %w", f.Name, err)
		}
		cols = append(cols, fmt.Sprintf("  `%s` %s", f.Name, t))
	}
	name := Namespace + "." + TableName(st.Name)
	view := Namespace + ".eds_" + strings.ReplaceAll(st.ID, "-", "_")
	// A table name that starts with a digit (a store named 2024-trail) is an identifier Trino,
	// whose SQL Athena's views are, takes only quoted, as Hive's DDL does in backticks.
	ddlName := func(suffix string) string { return name + suffix }
	from := name
	if t := TableName(st.Name); t != "" && t[0] >= '0' && t[0] <= '9' {
		ddlName = func(suffix string) string { return "`" + Namespace + "`.`" + t + suffix + "`" }
		from = `"` + Namespace + `"."` + t + `"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- Store %s (%s): the Iceberg table, its files under %s.\n", st.Name, st.ID, location)
	fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS %s;\n\n", Namespace)
	b.WriteString(registration(tbl, name, location))
	fmt.Fprintf(&b, "CREATE TABLE %s (\n%s)\nPARTITIONED BY (day(eventtime))\nLOCATION '%s/'\nTBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet');\n\n", ddlName(""), strings.Join(cols, ",\n"), location)
	fmt.Fprintf(&b, "-- Queries written for CloudTrail Lake name \"aws:cloudtrail\".\"%s\"; in Athena name this view.\n", st.ID)
	fmt.Fprintf(&b, "CREATE OR REPLACE VIEW %s AS SELECT\n  %s\nFROM %s;\n\n", view, strings.Join(sel, ",\n  "), from)
	fmt.Fprintf(&b, "-- Or, without Iceberg: the data files as a plain Parquet table, one partition a day by projection.\n")
	b.WriteString("-- It reads every object under data/, which is not one snapshot: for the keep window after a\n" +
		"-- compaction or purge (auditlake catalog set --keep-retired, 24 h by default) a day holds both\n" +
		"-- its new file and the files it replaced, so its rows count twice. The Iceberg table never does.\n")
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE %s (\n%s)\nPARTITIONED BY (`day` string)\nSTORED AS PARQUET\nLOCATION '%s/data/'\nTBLPROPERTIES (\n  'projection.enabled'='true',\n  'projection.day.type'='date',\n  'projection.day.format'='yyyy-MM-dd',\n  'projection.day.range'='2013-01-01,NOW',\n  'projection.day.interval'='1',\n  'projection.day.interval.unit'='DAYS',\n  'storage.location.template'='%s/data/eventdate=${day}/');\n", ddlName("_parquet"), strings.Join(cols, ",\n"), location, location)
	return b.String(), nil
}

// registration is the DDL's note on Athena's CREATE TABLE, which makes a new, empty Iceberg table
// (Athena's documentation: "Athena CREATE TABLE creates an Iceberg table with no data"), not one
// over the table auditlake writes: what reads auditlake's table in Athena is a Glue table naming
// its current metadata file — kept current by auditlake with a Glue catalog, or registered once
// by the user (the aws command printed, when the table's metadata is under location).
func registration(tbl *table.Table, name, location string) string {
	var b strings.Builder
	b.WriteString("-- Athena's CREATE TABLE below makes a NEW, EMPTY Iceberg table: it does not read the one\n" +
		"-- auditlake writes. For auditlake's table in Athena, either let auditlake keep it in the Glue\n" +
		"-- Data Catalog (auditlake catalog set glue …: every commit updates it), or register its\n" +
		"-- current snapshot in Glue yourself (Athena then reads that snapshot until you register it\n" +
		"-- again, and a file it names may be deleted --keep-retired after a later compaction):\n")
	if meta := tbl.MetadataLocation(); strings.HasPrefix(meta, location+"/") && !strings.ContainsAny(meta, `'\"`) {
		db, tname, _ := strings.Cut(name, ".")
		fmt.Fprintf(&b, "--   aws glue create-table --database-name %s --table-input '{\"Name\": \"%s\", \"TableType\": \"EXTERNAL_TABLE\", \"Parameters\": {\"table_type\": \"ICEBERG\", \"metadata_location\": \"%s\"}, \"StorageDescriptor\": {\"Location\": \"%s\"}}'\n", db, tname, meta, location)
	} else {
		b.WriteString("--   (publish the store first: auditlake eds publish STORE --to " + location + "/ ; then run\n" +
			"--   auditlake athena ddl again for the aws glue create-table command naming its metadata)\n")
	}
	b.WriteString("-- Then skip the CREATE TABLE. Run it only for an Athena table of your own at another location:\n" +
		"-- at this one, auditlake catalog sync deletes metadata files its table does not name.\n")
	return b.String()
}

// hiveType is the Athena (Hive DDL) type of an Iceberg type.
func hiveType(t iceberggo.Type) (string, error) {
	switch t := t.(type) {
	case iceberggo.StringType:
		return "string", nil
	case iceberggo.BooleanType:
		return "boolean", nil
	case iceberggo.Int32Type:
		return "int", nil
	case iceberggo.Int64Type:
		return "bigint", nil
	case iceberggo.Float32Type:
		return "float", nil
	case iceberggo.Float64Type:
		return "double", nil
	case iceberggo.DateType:
		return "date", nil
	case iceberggo.TimestampType, iceberggo.TimestampTzType:
		return "timestamp", nil
	case iceberggo.BinaryType:
		return "binary", nil
	case iceberggo.DecimalType:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision(), t.Scale()), nil
	case *iceberggo.ListType:
		e, err := hiveType(t.Element)
		return "array<" + e + ">", err
	case *iceberggo.MapType:
		k, err := hiveType(t.KeyType)
		if err != nil {
			return "", err
		}
		v, err := hiveType(t.ValueType)
		return "map<" + k + "," + v + ">", err
	case *iceberggo.StructType:
		var parts []string
		for _, f := range t.Fields() {
			ft, err := hiveType(f.Type)
			if err != nil {
				return "", err
			}
			parts = append(parts, f.Name+":"+ft)
		}
		return "struct<" + strings.Join(parts, ",") + ">", nil
	}
	return "", fmt.Errorf("no Athena type for %s", t)
}

// LoadTable loads store st's table.
func LoadTable(ctx context.Context, cat catalog.Catalog, st lake.Store) (*table.Table, error) {
	tbl, err := cat.LoadTable(ctx, catalog.ToIdentifier(Namespace, TableName(st.Name)))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return nil, fmt.Errorf("store %s has no Iceberg table yet: its first commit makes it (or auditlake catalog sync)", st.Name)
	}
	return tbl, err
}
