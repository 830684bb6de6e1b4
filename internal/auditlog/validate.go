package auditlog

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
)

// Report is what Validate found.
type Report struct {
	Events   int      `json:"events"`   // in the store
	Digests  int      `json:"digests"`  // read
	Covered  int      `json:"covered"`  // events listed by a valid digest and unchanged
	Purged   int      `json:"purged"`   // listed, absent, older than the retention
	Problems []string `json:"problems"` // each a sentence naming the event or digest
}

// Validate checks the audit store against its digests: each digest's signature and its link to
// the previous one, every listed event present (or purged by retention) with the eventjson it
// had, and no event in the store that no digest lists. The spool (spool.go) is folded first, so
// that every recorded action is checked; a spool line no fold could take is a problem.
func Validate(ctx context.Context, lk *lake.Lake) (Report, error) {
	rep := Report{Problems: []string{}}
	if err := Open(lk).Flush(ctx); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the audit spool could not be folded into the store (its records are kept, not checked): %v", err))
	}
	rep.Problems = append(rep.Problems, spoolDamage(lk)...)
	st, err := lk.Resolve(StoreName)
	if errors.Is(err, lake.ErrNotFound) {
		return rep, nil // nothing audited yet
	}
	if err != nil {
		return rep, err
	}
	master, err := access.Open(lk.Dir).MasterKey()
	if err != nil {
		return rep, err
	}
	ds, problems, err := readDigests(lk)
	if err != nil {
		return rep, err
	}
	rep.Problems = append(rep.Problems, problems...)
	rep.Digests = len(ds)
	listed := map[string]digestEvent{}
	for i, d := range ds {
		if !hmac.Equal([]byte(sign(master, d.body())), []byte(d.Signature)) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("digest %d: signature does not match its content (modified)", d.Seq))
			continue
		}
		switch {
		case i == 0 && d.Seq != 1:
			rep.Problems = append(rep.Problems, fmt.Sprintf("digests 1 to %d are missing", d.Seq-1))
		case i > 0 && d.Seq != ds[i-1].Seq+1:
			rep.Problems = append(rep.Problems, fmt.Sprintf("digests %d to %d are missing", ds[i-1].Seq+1, d.Seq-1))
		case i > 0 && d.PreviousHash != hashOf(ds[i-1].body()):
			rep.Problems = append(rep.Problems, fmt.Sprintf("digest %d: does not chain to digest %d", d.Seq, ds[i-1].Seq))
		}
		for _, e := range d.Events {
			listed[e.EventID] = e
		}
	}
	s, err := query.Open(ctx, lk, query.Options{MemoryLimit: "512MB"})
	if err != nil {
		return rep, err
	}
	defer s.Close()
	res, err := s.RunInternal(ctx, "SELECT eventid, eventname, eventjson, "+columnsMatchRecord+" FROM "+query.StoreTable(st.ID))
	if errors.Is(err, lake.ErrDamaged) {
		// A file changed on disk no longer matches the manifest: tampering (or damage) that
		// validation reports rather than fails on.
		rep.Problems = append(rep.Problems, fmt.Sprintf("the audit store's files were modified on disk: %v", err))
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rep.Events = len(res.Rows)
	seen := map[string]bool{}
	for _, r := range res.Rows {
		id, _ := r[0].(string)
		name, _ := r[1].(string)
		js, _ := r[2].(string)
		seen[id] = true
		e, ok := listed[id]
		switch {
		case !ok:
			rep.Problems = append(rep.Problems, fmt.Sprintf("event %s (%s) is in the store but in no digest: added on disk, or its digest was lost", id, name))
		case e.SHA256 != hashOf([]byte(js)) || e.EventName != name:
			rep.Problems = append(rep.Problems, fmt.Sprintf("event %s (%s): modified since digest", id, e.EventName))
		case r[3] != true:
			rep.Problems = append(rep.Problems, fmt.Sprintf("event %s (%s): its columns were modified on disk (they no longer say what its digested record says)", id, e.EventName))
		default:
			rep.Covered++
		}
	}
	cutoff := time.Now().UTC().AddDate(0, 0, -st.RetentionDays)
	for id, e := range listed {
		if seen[id] {
			continue
		}
		if st.RetentionDays > 0 && e.EventTime.Before(cutoff) {
			rep.Purged++
			continue
		}
		rep.Problems = append(rep.Problems, fmt.Sprintf("event %s (%s at %s) is listed in a digest but missing from the store: deleted", id, e.EventName, e.EventTime.Format(time.RFC3339)))
	}
	return rep, nil
}

// columnsMatchRecord is true when a row's columns say what its record (eventjson, which the
// digest covers) says. Queries read the columns, not eventjson: a file rewritten with another
// principal, statement or outcome in its columns, and eventjson kept, must not pass as intact.
// Every field the audit log writes (auditlog.record) is compared; a map column key by key.
var columnsMatchRecord = func() string {
	var c []string
	for col, field := range map[string]string{
		"eventversion": "eventVersion", "eventsource": "eventSource", "eventname": "eventName",
		"awsregion": "awsRegion", "sourceipaddress": "sourceIPAddress", "useragent": "userAgent",
		"errorcode": "errorCode", "errormessage": "errorMessage", "requestid": "requestID",
		"eventid": "eventID", "eventtype": "eventType", "recipientaccountid": "recipientAccountId",
		"eventcategory":     "eventCategory",
		"useridentity.type": "userIdentity'->>'type", "useridentity.principalid": "userIdentity'->>'principalId",
		"useridentity.arn": "userIdentity'->>'arn", "useridentity.accountid": "userIdentity'->>'accountId",
		"useridentity.accesskeyid": "userIdentity'->>'accessKeyId", "useridentity.username": "userIdentity'->>'userName",
	} {
		op := "->>"
		if strings.Contains(field, "->>") {
			op = "->"
		}
		c = append(c, fmt.Sprintf("%s IS NOT DISTINCT FROM (eventjson%s'%s')", col, op, field))
	}
	for col, field := range map[string]string{"readonly": "readOnly", "managementevent": "managementEvent"} {
		c = append(c, fmt.Sprintf("%s IS NOT DISTINCT FROM CAST(eventjson->>'%s' AS BOOLEAN)", col, field))
	}
	// eventtime is kept to the microsecond.
	c = append(c, "abs(epoch_us(eventtime) - epoch_us(CAST(eventjson->>'eventTime' AS TIMESTAMPTZ))) <= 1")
	for col, field := range map[string]string{"requestparameters": "requestParameters", "responseelements": "responseElements", "additionaleventdata": "additionalEventData"} {
		c = append(c, fmt.Sprintf("coalesce(cardinality(%[1]s), 0) = coalesce(json_array_length(json_keys(eventjson->'%[2]s')), 0)", col, field),
			// A string is kept as its text, a null as NULL, anything else as its JSON (compared
			// both written by the engine's JSON writer: the record's escapes are its writer's own).
			fmt.Sprintf("coalesce(list_bool_and(list_transform(map_entries(%[1]s), lambda e: CASE json_type(eventjson->'%[2]s'->e.key) WHEN 'VARCHAR' THEN e.value IS NOT DISTINCT FROM (eventjson->'%[2]s'->>e.key) WHEN 'NULL' THEN e.value IS NULL ELSE json_extract(try_cast(e.value AS JSON), '$') IS NOT DISTINCT FROM json_extract(eventjson->'%[2]s'->e.key, '$') END)), true)", col, field))
	}
	sort.Strings(c)
	return "coalesce((" + strings.Join(c, ")\n AND (") + "), false)"
}()
