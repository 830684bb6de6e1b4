package lake

import (
	"context"
	"fmt"
	"time"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
)

// ConfigColumns is the CloudTrail Lake schema of a Config-item event data store (aws-formats.md
// §1.2) as DuckDB column definitions, in Lake's order. eventdata.relationships is an array of
// structs: the doc shows one struct, but real items hold several relationships.
var ConfigColumns = []struct{ Name, Type string }{
	{"eventversion", "VARCHAR"},
	{"eventcategory", "VARCHAR"},
	{"eventtype", "VARCHAR"},
	{"eventid", "VARCHAR"},
	{"eventtime", "TIMESTAMP"},
	{"awsregion", "VARCHAR"},
	{"recipientaccountid", "VARCHAR"},
	{"addendum", "MAP(VARCHAR, VARCHAR)"},
	{"eventdata", "STRUCT(configurationitemversion VARCHAR, configurationitemcapturetime VARCHAR, " +
		"configurationitemstatus VARCHAR, configurationitemstateid VARCHAR, accountid VARCHAR, " +
		"resourcetype VARCHAR, resourceid VARCHAR, resourcename VARCHAR, arn VARCHAR, awsregion VARCHAR, " +
		"availabilityzone VARCHAR, resourcecreationtime VARCHAR, configuration MAP(VARCHAR, VARCHAR), " +
		"supplementaryconfiguration MAP(VARCHAR, VARCHAR), relatedevents VARCHAR, " +
		"relationships STRUCT(name VARCHAR, resourcetype VARCHAR, resourceid VARCHAR, resourcename VARCHAR)[], " +
		"tags MAP(VARCHAR, VARCHAR))"},
	{"eventjson", "VARCHAR"},
}

// ConfigDDL returns the column list "(name TYPE, …)" of the Config-item store schema.
func ConfigDDL() string {
	s := "("
	for i, c := range ConfigColumns {
		if i > 0 {
			s += ", "
		}
		s += c.Name + " " + c.Type
	}
	return s + ")"
}

// ConfigStagingTable is the engine table Config ingest appends rows to before a commit: the
// dedupe key (resource id + capture time, which is eventtime), the event id, recipient account,
// norm — the other Lake columns as one JSON object keyed by column name, turned into typed
// columns by json_transform with ConfigNormStructure — and eventjson.
const ConfigStagingTable = "config_staging"

const configStagingDDL = "(eventid VARCHAR, resourceid VARCHAR, eventtime TIMESTAMP, recipientaccountid VARCHAR, norm VARCHAR, eventjson VARCHAR)"

// configTyped are the Lake columns staged as typed columns rather than inside norm.
var configTyped = map[string]bool{"eventid": true, "eventtime": true, "recipientaccountid": true, "eventjson": true}

// ConfigNormStructure is the json_transform structure of a Config row's norm, derived from
// ConfigColumns.
var ConfigNormStructure = func() string {
	s := "{"
	n := 0
	for _, c := range ConfigColumns {
		if configTyped[c.Name] {
			continue
		}
		if n > 0 {
			s += ","
		}
		n++
		s += `"` + c.Name + `":` + ctparquet.Structure(c.Type)
	}
	return s + "}"
}()

// CreateConfigStaging creates (or empties) the Config staging table in db.
func CreateConfigStaging(ctx context.Context, db *engine.DB) error {
	return db.Exec(ctx, "CREATE OR REPLACE TABLE "+ConfigStagingTable+" "+configStagingDDL)
}

// WriteConfigBatch deduplicates the staged configuration items on resource id + capture time —
// within the batch and against the store's files of the same dates — leaves out the items
// captured before cutoff (the store's retention; zero: none) that are not the latest item of
// their resource in the batch or the store (the latest is kept whatever its age: a resource
// unchanged for years has only that one, and the Config rule needs it), writes the new rows as
// Parquet partitioned by the capture date, and returns the new files (not yet committed), the
// number of rows written and the number left out by retention. The staging table is emptied.
func WriteConfigBatch(ctx context.Context, db *engine.DB, w *Writer, cutoff time.Time) (added []DataFile, written, old int64, err error) {
	err = db.Exec(ctx, `DELETE FROM `+ConfigStagingTable+` WHERE rowid IN (SELECT rowid FROM (
		SELECT rowid, row_number() OVER (PARTITION BY resourceid, eventtime ORDER BY rowid) AS rn FROM `+ConfigStagingTable+`) WHERE rn > 1)`)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("deduplicate config batch: %w", err)
	}
	if old, err = dropOldConfig(ctx, db, w, cutoff); err != nil {
		return nil, 0, 0, err
	}
	rows, err := db.Query(ctx, "SELECT DISTINCT strftime(eventtime, '%Y-%m-%d') FROM "+ConfigStagingTable)
	if err != nil {
		return nil, 0, 0, err
	}
	dates := map[string]bool{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, 0, 0, err
		}
		dates[d] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, 0, err
	}
	var dated []DataFile
	for _, f := range w.m.Files {
		if dates[f.Date] {
			dated = append(dated, f)
		}
	}
	existing, err := w.localFiles(ctx, dated)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(existing) > 0 {
		err = db.Exec(ctx, `DELETE FROM `+ConfigStagingTable+` AS b WHERE EXISTS (SELECT 1 FROM read_parquet(`+engine.ListLiteral(existing)+`) AS s
			WHERE s.eventtime = b.eventtime AND s.eventdata.resourceid = b.resourceid)`)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("deduplicate config items against store: %w", err)
		}
	}
	if err := db.QueryRow(ctx, "SELECT count(*) FROM "+ConfigStagingTable).Scan(&written); err != nil {
		return nil, 0, old, err
	}
	defer db.Exec(context.WithoutCancel(ctx), "DELETE FROM "+ConfigStagingTable)
	if written == 0 {
		return nil, 0, old, nil
	}
	added, err = writeParquet(ctx, db, w, selectConfigFromStaging())
	return added, written, old, err
}

// dropOldConfig deletes the staged items captured before cutoff that are not the latest of
// their resource among the staged items and the store's, and returns how many it deleted.
func dropOldConfig(ctx context.Context, db *engine.DB, w *Writer, cutoff time.Time) (int64, error) {
	if cutoff.IsZero() {
		return 0, nil
	}
	var old int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM "+ConfigStagingTable+" WHERE eventtime < ?", cutoff).Scan(&old); err != nil || old == 0 {
		return 0, err
	}
	newer := `SELECT 1 FROM ` + ConfigStagingTable + ` AS n WHERE n.resourceid = b.resourceid AND n.eventtime > b.eventtime`
	files, err := w.localFiles(ctx, w.m.Files)
	if err != nil {
		return 0, err
	}
	if len(files) > 0 {
		newer += ` UNION ALL SELECT 1 FROM read_parquet(` + engine.ListLiteral(files) + `) AS s
			WHERE s.eventdata.resourceid = b.resourceid AND s.eventtime > b.eventtime`
	}
	before := old
	if err := db.Exec(ctx, `DELETE FROM `+ConfigStagingTable+` AS b WHERE b.eventtime < ? AND EXISTS (`+newer+`)`, cutoff); err != nil {
		return 0, fmt.Errorf("apply retention to config items: %w", err)
	}
	if err := db.QueryRow(ctx, "SELECT count(*) FROM "+ConfigStagingTable+" WHERE eventtime < ?", cutoff).Scan(&old); err != nil {
		return 0, err
	}
	return before - old, nil
}

// selectConfigFromStaging turns staged rows into the Config store schema, in ConfigColumns
// order, plus the eventdate partition column.
func selectConfigFromStaging() string {
	s := "SELECT "
	for i, c := range ConfigColumns {
		if i > 0 {
			s += ", "
		}
		if configTyped[c.Name] {
			s += c.Name
		} else {
			s += "n." + c.Name
		}
	}
	return s + ", strftime(eventtime, '%Y-%m-%d') AS eventdate FROM (SELECT *, json_transform(norm, " +
		engine.Literal(ConfigNormStructure) + ") AS n FROM " + ConfigStagingTable + " ORDER BY eventtime)"
}
