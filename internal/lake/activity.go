package lake

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/ctparquet"
	"github.com/auditlake/auditlake/internal/engine"
)

// ActivityColumns is the schema of an activity store: CloudTrail Lake's event data store for
// non-AWS events from integrations (eventcategory 'ActivityAuditLog', aws-formats.md §1.2), as
// DuckDB column definitions. The doc's misspelt eventdata field "errormssage" is exposed as
// errormessage, the name of the JSON field it holds; eventjson (the whole wrapped event, as for
// CloudTrail stores) is an auditlake addition, so the original record stays queryable.
var ActivityColumns = []struct{ Name, Type string }{
	{"eventversion", "VARCHAR"},
	{"eventcategory", "VARCHAR"},
	{"eventtype", "VARCHAR"},
	{"eventid", "VARCHAR"},
	{"eventtime", "TIMESTAMP"},
	{"awsregion", "VARCHAR"},
	{"recipientaccountid", "VARCHAR"},
	{"addendum", "STRUCT(reason VARCHAR, updatedfields VARCHAR, originaluid VARCHAR, originaleventid VARCHAR)"},
	{"metadata", "STRUCT(ingestiontime VARCHAR, channelarn VARCHAR)"},
	{"eventdata", "STRUCT(version VARCHAR, useridentity STRUCT(type VARCHAR, principalid VARCHAR, details MAP(VARCHAR, VARCHAR)), " +
		"useragent VARCHAR, eventsource VARCHAR, eventname VARCHAR, eventtime VARCHAR, uid VARCHAR, " +
		"requestparameters MAP(VARCHAR, VARCHAR), responseelements MAP(VARCHAR, VARCHAR), errorcode VARCHAR, errormessage VARCHAR, " +
		"sourceipaddress VARCHAR, recipientaccountid VARCHAR, additionaleventdata MAP(VARCHAR, VARCHAR))"},
	{"eventjson", "VARCHAR"},
}

// ActivityDDL returns the column list "(name TYPE, …)" of the activity store schema.
func ActivityDDL() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range ActivityColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name + " " + c.Type)
	}
	return b.String() + ")"
}

// ActivityRow is one accepted integration event, ready for an activity store.
type ActivityRow struct {
	// EventID is the store's natural key: rows whose EventID the store (or the batch) already
	// holds are dropped, so a retried call adds nothing.
	EventID string
	// EventTime is the event's time in UTC; it also picks the eventdate partition.
	EventTime time.Time
	// Norm is a JSON object holding every other column of ActivityColumns except eventjson,
	// keyed by column name, with nested keys in lowercase and map values as strings (the
	// encoding of aws-formats.md §1.3). Absent keys become NULL.
	Norm []byte
	// EventJSON is the wrapped event as CloudTrail Lake shows it in its eventjson column.
	EventJSON string
}

const activityStaging = "activity_staging"

// activityTyped are the columns staged as typed values; the others travel inside norm.
var activityTyped = map[string]bool{"eventid": true, "eventtime": true, "eventjson": true}

// activityNormStructure is the json_transform structure of norm, derived from ActivityColumns.
var activityNormStructure = func() string {
	s := "{"
	first := true
	for _, c := range ActivityColumns {
		if activityTyped[c.Name] {
			continue
		}
		if !first {
			s += ","
		}
		first = false
		s += `"` + c.Name + `":` + ctparquet.Structure(c.Type)
	}
	return s + "}"
}()

// selectActivity turns staged rows into the activity schema, in ActivityColumns order, plus
// the eventdate partition column.
func selectActivity() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range ActivityColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		if !activityTyped[c.Name] {
			b.WriteString("n.")
		}
		b.WriteString(c.Name)
	}
	b.WriteString(", strftime(eventtime, '%Y-%m-%d') AS eventdate FROM (SELECT *, json_transform(norm, ")
	b.WriteString(engine.Literal(activityNormStructure))
	b.WriteString(") AS n FROM " + activityStaging + ")")
	return b.String()
}

// WriteActivity adds rows to an activity store in one atomic commit: it drops rows whose
// eventid repeats within rows or is already in the store's files of the same event dates (a
// retried call carries the same events at the same times), writes the rest as Parquet
// partitioned by event date, and commits them, so they are queryable as soon as it returns.
// It returns how many rows were new. Each call adds at least one small file per date;
// callers run Compact on the same writer afterwards to merge them.
func WriteActivity(ctx context.Context, db *engine.DB, w *Writer, rows []ActivityRow) (written int64, err error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if err := db.Exec(ctx, "CREATE OR REPLACE TEMP TABLE "+activityStaging+" (eventid VARCHAR, eventtime TIMESTAMP, norm VARCHAR, eventjson VARCHAR)"); err != nil {
		return 0, fmt.Errorf("create activity staging: %w", err)
	}
	defer db.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+activityStaging)
	app, err := db.NewAppender(ctx, activityStaging)
	if err != nil {
		return 0, err
	}
	dates := map[string]bool{}
	for _, r := range rows {
		t := r.EventTime.UTC()
		dates[t.Format("2006-01-02")] = true
		if err := app.AppendRow(r.EventID, t, string(r.Norm), r.EventJSON); err != nil {
			app.Close()
			return 0, fmt.Errorf("stage activity event %q: %w", r.EventID, err)
		}
	}
	if err := app.Close(); err != nil {
		return 0, fmt.Errorf("stage activity events: %w", err)
	}
	err = db.Exec(ctx, `DELETE FROM `+activityStaging+` WHERE rowid IN (SELECT rowid FROM (
		SELECT rowid, row_number() OVER (PARTITION BY eventid ORDER BY rowid) AS rn FROM `+activityStaging+`) WHERE rn > 1)`)
	if err != nil {
		return 0, fmt.Errorf("deduplicate activity batch: %w", err)
	}
	var old []DataFile
	for _, f := range w.m.Files {
		if dates[f.Date] {
			old = append(old, f)
		}
	}
	existing, err := w.localFiles(ctx, old)
	if err != nil {
		return 0, err
	}
	if len(existing) > 0 {
		err = db.Exec(ctx, `DELETE FROM `+activityStaging+` AS b WHERE EXISTS (SELECT 1 FROM read_parquet(`+engine.ListLiteral(existing)+`, hive_partitioning = false) AS s
			WHERE s.eventid = b.eventid)`)
		if err != nil {
			return 0, fmt.Errorf("deduplicate activity events against store: %w", err)
		}
	}
	if err := db.QueryRow(ctx, "SELECT count(*) FROM "+activityStaging).Scan(&written); err != nil {
		return 0, err
	}
	if written == 0 {
		return 0, nil
	}
	added, err := writeParquet(ctx, db, w, selectActivity())
	if err != nil {
		return 0, err
	}
	if err := w.Commit(added, nil, nil); err != nil {
		return 0, err
	}
	return written, nil
}
