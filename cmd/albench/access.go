package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/query"
)

// accessReader is the user the overhead bench creates in the data directory, with a grant of a
// few columns of the EC2 rows of the store, like issue 16's finops role.
const (
	accessReader  = "albench-reader"
	accessColumns = "eventtime,eventname,eventsource,awsregion,recipientaccountid,useridentity"
	accessFilter  = "eventsource = 'ec2.amazonaws.com'"
)

// accessBench measures what restriction costs (issue 16: a filtered query at most 1.2 × the same
// query by the admin on the same data): each query is run by the admin (unrestricted session),
// by the admin with the row filter written into it (the same rows), and by a reader whose grant
// is those columns of those rows, alternated round by round; the medians are compared.
func accessBench(ctx context.Context, data, store string, rounds int) error {
	lk, st, m, err := openStore(data, store)
	if err != nil {
		return err
	}
	reg := access.Open(data)
	if _, err := reg.CreateUser(accessReader, false, nil); err != nil && !errors.Is(err, access.ErrExists) {
		return err
	}
	if _, err := reg.Revoke("", "user:"+accessReader, "store:"+st.ID, ""); err != nil && !errors.Is(err, access.ErrNotFound) {
		return err
	}
	g := access.Grant{Privilege: access.Select, Principal: "user:" + accessReader, Resource: "store:" + st.ID,
		Columns: strings.Split(accessColumns, ","), RowFilter: accessFilter}
	if _, err := reg.AddGrant(g, func(g *access.Grant) error { return query.CheckGrant(ctx, lk, g) }); err != nil {
		return err
	}
	reader, err := reg.Principal("user:" + accessReader)
	if err != nil {
		return err
	}
	admin, err := query.Open(ctx, lk, query.Options{MemoryLimit: "2GB"})
	if err != nil {
		return err
	}
	defer admin.Close()
	filtered, err := query.Open(ctx, lk, query.Options{MemoryLimit: "2GB", Principal: reader})
	if err != nil {
		return err
	}
	defer filtered.Close()
	var lastDay time.Time // the day of the store's newest event
	for _, f := range m.Files {
		if f.MaxTime.After(lastDay) {
			lastDay = f.MaxTime
		}
	}
	lastDay = lastDay.UTC().Truncate(24 * time.Hour)

	table := query.StoreTable(st.ID)
	queries := []struct{ name, sql string }{
		{"count per event and region", "SELECT eventname, awsregion, count(*) AS n FROM " + table + " GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT 20"},
		{"who ran instances, per day", "SELECT date_trunc('day', eventtime) AS day, useridentity.arn AS who, count(*) AS n FROM " + table +
			" WHERE eventname = 'RunInstances' GROUP BY 1, 2 ORDER BY 1, 2"},
		{"latest 100 events of a region", "SELECT eventtime, eventname, recipientaccountid FROM " + table +
			" WHERE awsregion = 'us-east-1' ORDER BY eventtime DESC LIMIT 100"},
		{"events per name on the last day", "SELECT eventname, count(*) AS n FROM " + table +
			" WHERE eventtime >= TIMESTAMP '" + lastDay.Format(time.DateTime) + "' AND eventtime < TIMESTAMP '" + lastDay.AddDate(0, 0, 1).Format(time.DateTime) + "' GROUP BY 1 ORDER BY n DESC, 1"},
	}
	// Each run's wall time and the process's CPU time (user + system) during it: the session
	// runs one query at a time, so the CPU is the query's, and far less sensitive than the wall
	// to other work on the machine.
	var lastCPU time.Duration
	time1 := func(s *query.Session, sql string) (time.Duration, int, error) {
		cpu0 := processCPU()
		start := time.Now()
		res, err := s.Run(ctx, sql)
		if err != nil {
			return 0, 0, err
		}
		d := time.Since(start)
		lastCPU = processCPU() - cpu0
		return d, len(res.Rows), nil
	}
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.SortFunc(s, cmp.Compare)
		return s[(len(s)-1)/2]
	}
	var out strings.Builder
	worst, worstCPU := 0.0, 0.0
	var worstAccess target
	for _, q := range queries {
		withFilter := strings.Replace(q.sql, " FROM "+table, " FROM (SELECT * FROM "+table+" WHERE "+accessFilter+")", 1)
		runs := []struct {
			s      *query.Session
			sql    string
			d, cpu []time.Duration
		}{{s: admin, sql: q.sql}, {s: admin, sql: withFilter}, {s: filtered, sql: q.sql}}
		for r := 0; r <= rounds; r++ { // round 0 warms the caches
			for i := range runs {
				d, _, err := time1(runs[i].s, runs[i].sql)
				if err != nil {
					return fmt.Errorf("%s: %w", q.name, err)
				}
				if r > 0 {
					runs[i].d = append(runs[i].d, d)
					runs[i].cpu = append(runs[i].cpu, lastCPU)
				}
			}
		}
		_, nAdmin, _ := time1(admin, withFilter)
		_, nReader, _ := time1(filtered, q.sql)
		if nAdmin != nReader {
			return fmt.Errorf("%s: the reader's query returned %d rows, the admin's of the same rows %d", q.name, nReader, nAdmin)
		}
		a, af, f := med(runs[0].d), med(runs[1].d), med(runs[2].d)
		ca, cf := med(runs[0].cpu), med(runs[2].cpu)
		ratio := f.Seconds() / a.Seconds()
		if ratio > worst {
			worstAccess = ratioTarget("16: restricted reader / admin, worst query ("+q.name+")", ms(f), ms(a), "%.1f ms", 1.2)
		}
		worst = max(worst, ratio)
		worstCPU = max(worstCPU, cf.Seconds()/ca.Seconds())
		fmt.Fprintf(&out, "| %s | %.1f ms | %.1f ms | %.1f ms | %.2f | %.2f | %.1f / %.1f ms: %.2f |\n", q.name, ms(a), ms(af), ms(f), ratio, f.Seconds()/af.Seconds(), ms(cf), ms(ca), cf.Seconds()/ca.Seconds())
	}
	fmt.Printf("\n## Access restriction overhead (%d events; medians of %d alternated rounds)\n\n", m.Rows(), rounds)
	fmt.Printf("A reader granted %s of the rows where %s, against the admin (target: ≤ 1.2 ×).\n\n", accessColumns, accessFilter)
	fmt.Println("| query | admin | admin, filter in the query | reader | reader / admin | reader / admin with filter | CPU, reader / admin |\n| --- | --- | --- | --- | --- | --- | --- |")
	fmt.Print(out.String())
	fmt.Printf("\nWorst reader / admin: %.2f (CPU time: %.2f), target ≤ 1.2 ×: **%s**\n", worst, worstCPU, verdict(worst, 1.2))
	record(worstAccess)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
