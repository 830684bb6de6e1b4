package dialect

import "strings"

// Values are what [Placeholders] substitutes into published sample queries.
type Values struct {
	// EDSID replaces <EDS ID>, $EDS_ID, <event_data_store_id>, <event-data-store-ID> and
	// enter-eds-id-here.
	EDSID string
	// DateFilter is a SQL predicate replacing ${date_filter} (the CUR query library's time
	// range); empty means TRUE.
	DateFilter string
	// TableName replaces ${table_name} (the CUR query library's table); empty leaves it.
	TableName string
}

// Placeholders fills the placeholders that AWS sample queries use, verbatim, wherever they
// appear (they are not SQL, so they are replaced in the raw text).
func Placeholders(sql string, v Values) string {
	df := v.DateFilter
	if df == "" {
		df = "TRUE"
	}
	pairs := []string{
		"<EDS ID>", v.EDSID,
		"$EDS_ID", v.EDSID,
		"${EDS_ID}", v.EDSID,
		"<event_data_store_id>", v.EDSID,
		"<event-data-store-ID>", v.EDSID,
		"<event-data-store-id>", v.EDSID,
		"enter-eds-id-here", v.EDSID,
		"${date_filter}", df,
	}
	if v.TableName != "" {
		pairs = append(pairs, "${table_name}", v.TableName)
	}
	return strings.NewReplacer(pairs...).Replace(sql)
}
