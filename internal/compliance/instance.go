package compliance

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditlake/auditlake/internal/query"
)

// TrailEvent is one event of an instance's audit trail.
type TrailEvent struct {
	Time        time.Time `json:"time"`
	EventName   string    `json:"event_name"`
	EventSource string    `json:"event_source"`
	Actor       string    `json:"actor"`
	Kind        string    `json:"kind"` // template|launch|state|tags|end|other
	Detail      string    `json:"detail"`
}

// DayCost is one day of an instance's cost.
type DayCost struct {
	Day       string  `json:"day"`
	Unblended float64 `json:"unblended_cost"`
	Effective float64 `json:"effective_cost"`
}

// Trail is the audit trail of one instance.
type Trail struct {
	InstanceID string       `json:"instance_id"`
	Summary    *Row         `json:"summary"`
	Events     []TrailEvent `json:"events"`
	DailyCost  []DayCost    `json:"daily_cost"`
}

// Instance builds the audit trail of instance id: its template's definition, the launch, state
// and tag changes, its end, and its cost per day. Summary is nil when no launch of it is in the
// store.
func Instance(ctx context.Context, s *query.Session, id string, p Params) (*Trail, error) {
	p.From, p.To, p.Accounts = nil, nil, nil
	rows, cost, err := launches(ctx, s, p)
	if err != nil {
		return nil, err
	}
	tr := &Trail{InstanceID: id, Events: []TrailEvent{}, DailyCost: []DayCost{}}
	for i := range rows {
		if rows[i].InstanceID == id {
			tr.Summary = &rows[i]
		}
	}
	store, _ := storeTable(s, p.Store)
	tmpl := ""
	if tr.Summary != nil {
		tmpl = tr.Summary.TemplateID
	}
	q, err := render("instance.sql", map[string]string{"Store": store})
	if err != nil {
		return nil, err
	}
	res, err := s.RunInternal(ctx, q, id, tmpl)
	if err != nil {
		return nil, fmt.Errorf("audit trail of %q: %w", id, err)
	}
	for _, v := range res.Rows {
		e := TrailEvent{Time: tm(v[0]), EventName: str(v[1]), EventSource: str(v[2]), Actor: str(v[3])}
		errCode := str(v[4])
		e.Kind, e.Detail = describe(e.EventName, id, tr.Summary)
		if tr.Summary != nil && e.Kind == "state" && tr.Summary.TerminatedAt != nil && e.Time.Equal(*tr.Summary.TerminatedAt) && errCode == "" {
			e.Kind, e.Detail = "end", tr.Summary.EndReason
		}
		if errCode != "" {
			e.Detail = strings.TrimSpace(e.Detail + " (failed: " + errCode + ", not applied)")
		}
		tr.Events = append(tr.Events, e)
	}
	if cost != nil {
		q := "SELECT strftime(" + cost.usageStart + ", '%Y-%m-%d'), sum(" + cost.unblended + "), sum(" + cost.effective + ") FROM " + cost.from +
			" WHERE " + cost.ec2Lines() + " AND " + cost.resourceID + " = ? GROUP BY 1"
		res, err := s.RunInternal(ctx, q, id)
		if err != nil {
			return nil, fmt.Errorf("daily cost of %q: %w", id, err)
		}
		for _, v := range res.Rows {
			tr.DailyCost = append(tr.DailyCost, DayCost{Day: str(v[0]), Unblended: round(num(v[1])), Effective: round(num(v[2]))})
		}
		sort.Slice(tr.DailyCost, func(i, j int) bool { return tr.DailyCost[i].Day < tr.DailyCost[j].Day })
	}
	return tr, nil
}

func describe(name, id string, r *Row) (kind, detail string) {
	switch name {
	case "CreateLaunchTemplate", "CreateLaunchTemplateVersion", "ModifyLaunchTemplate", "DeleteLaunchTemplate":
		return "template", name + " of the instance's template"
	case "RunInstances", "CreateFleet":
		if r == nil {
			return "launch", "launched " + id
		}
		tmpl := "no launch template"
		if r.TemplateID != "" {
			tmpl = "template " + r.TemplateID + " version " + r.TemplateVersion
		}
		return "launch", fmt.Sprintf("launched by %s (%s), %s; %s", r.LaunchedBy, r.Launcher, tmpl, r.Status)
	case "StopInstances", "StartInstances", "RebootInstances", "TerminateInstances":
		return "state", strings.TrimSuffix(name, "Instances")
	case "BidEvictedEvent":
		return "end", "Spot interruption"
	case "CreateTags", "DeleteTags":
		return "tags", name
	}
	return "other", name
}

// WriteTable writes the trail for a terminal.
func (t *Trail) WriteTable(w io.Writer) error {
	c := TerminalCell
	if t.Summary == nil {
		fmt.Fprintf(w, "Instance %s: no launch in the store.\n\n", c(t.InstanceID))
	} else {
		r := t.Summary
		via := r.Launcher
		if r.AutoScalingGroup != "" {
			via += " (group " + r.AutoScalingGroup + ")"
		}
		fmt.Fprintf(w, "Instance %s (%s, %s): launched %s by %s via %s; template %s version %s; %s — %s; %.1f h; %s USD unblended, %s USD effective\n\n",
			c(r.InstanceID), c(r.AccountID), c(r.Region), r.LaunchedAt.Format(time.RFC3339), c(r.LaunchedBy), c(via), c(dash(r.TemplateID)), c(dash(r.TemplateVersion)),
			c(r.Status), c(r.Reason), r.RuntimeHours, money(r.UnblendedCost), money(r.EffectiveCost))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tEVENT\tACTOR\tDETAIL")
	for _, e := range t.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), c(e.Kind), c(e.EventName), c(e.Actor), c(e.Detail))
	}
	tw.Flush()
	if len(t.DailyCost) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DAY\tUNBLENDED USD\tEFFECTIVE USD")
		for _, d := range t.DailyCost {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Day, money(d.Unblended), money(d.Effective))
		}
		tw.Flush()
	}
	return nil
}
