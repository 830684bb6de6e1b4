package compliance

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/auditlake/auditlake/internal/query"
)

// DayRow is the EC2 spend of one usage day for one approval status.
type DayRow struct {
	Day       string  `json:"day"`
	Status    string  `json:"status"`
	Unblended float64 `json:"unblended_cost"`
	Effective float64 `json:"effective_cost"`
}

// Daily is the daily-spend report.
type Daily struct {
	Currency string   `json:"currency"`
	Rows     []DayRow `json:"rows"`
}

// statusOrder is the order statuses are listed and stacked in.
var statusOrder = []string{StatusApproved, StatusNotApproved, StatusNoTemplate, StatusUnattributed}

func statusRank(s string) int {
	for i, x := range statusOrder {
		if x == s {
			return i
		}
	}
	return len(statusOrder)
}

// DailySpend sums EC2 cost lines (taxes, refunds and credits excluded) per usage day, split by
// the approval status of the instance each line belongs to; lines of no launched instance the
// trail knows (other instances, volumes, data transfer) are "unattributed". p.From/p.To bound
// the usage day here, not the launch.
func DailySpend(ctx context.Context, s *query.Session, p Params) (*Daily, error) {
	if p.Cost == "" {
		return nil, fmt.Errorf("daily spend needs a cost table")
	}
	lp := p
	lp.From, lp.To = nil, nil
	rows, cost, err := launches(ctx, s, lp)
	if err != nil {
		return nil, err
	}
	status := make(map[string]string, len(rows))
	for _, r := range rows {
		status[r.InstanceID] = r.Status
	}
	q := "SELECT strftime(" + cost.usageStart + ", '%Y-%m-%d') AS day, " + cost.resourceID + " AS rid, sum(" + cost.unblended + "), sum(" + cost.effective + ") FROM " +
		cost.from + " WHERE " + cost.ec2Lines() + " AND " + cost.usageStart + " IS NOT NULL" +
		" AND (?::TIMESTAMP IS NULL OR " + cost.usageStart + " >= ?::TIMESTAMP) AND (?::TIMESTAMP IS NULL OR " + cost.usageStart + " < ?::TIMESTAMP) GROUP BY 1, 2"
	res, err := s.RunInternal(ctx, q, timeArg(p.From), timeArg(p.From), timeArg(p.To), timeArg(p.To))
	if err != nil {
		return nil, fmt.Errorf("daily spend from %q: %w", p.Cost, err)
	}
	type key struct{ day, status string }
	sum := map[key]*DayRow{}
	for _, v := range res.Rows {
		st, ok := status[str(v[1])]
		if !ok {
			st = StatusUnattributed
		}
		k := key{str(v[0]), st}
		r := sum[k]
		if r == nil {
			r = &DayRow{Day: k.day, Status: st}
			sum[k] = r
		}
		r.Unblended += num(v[2])
		r.Effective += num(v[3])
	}
	d := &Daily{Currency: "USD", Rows: []DayRow{}}
	for _, r := range sum {
		r.Unblended, r.Effective = round(r.Unblended), round(r.Effective)
		d.Rows = append(d.Rows, *r)
	}
	sort.Slice(d.Rows, func(i, j int) bool {
		if d.Rows[i].Day != d.Rows[j].Day {
			return d.Rows[i].Day < d.Rows[j].Day
		}
		return statusRank(d.Rows[i].Status) < statusRank(d.Rows[j].Status)
	})
	return d, nil
}

// WriteCSV writes the daily rows as CSV. Its text cells (day, status) are never formulas, so
// safe (see Report.WriteCSV) changes nothing.
func (d *Daily) WriteCSV(w io.Writer, safe bool) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"day", "status", "unblended_cost", "effective_cost"})
	for _, r := range d.Rows {
		cw.Write([]string{r.Day, r.Status, ff(r.Unblended), ff(r.Effective)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the daily rows as a text table.
func (d *Daily) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "DAY\tSTATUS\tUNBLENDED %s\tEFFECTIVE %s\t\n", d.Currency, d.Currency)
	for _, r := range d.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Day, r.Status, money(r.Unblended), money(r.Effective))
	}
	return tw.Flush()
}
