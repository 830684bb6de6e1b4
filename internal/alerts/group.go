package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/rules"
)

// Grouping and suppression: a rule's matches are counted in one alert per key (by default the
// principal) and window (by default an hour, aligned on UTC: 10:00-11:00), by the matched
// events' time. The first match of a group is notified; later matches of the same group — in
// the same batch or a later one — are stored with the group's id and raise its count
// (auditlake alerts shows one row per group with its count) without a new notification.
// A group's id depends only on the rule, the store, the key and the window, so evaluating a
// batch again finds the same groups.

// GroupKeys are the keys a rule's alerts can be grouped by.
var GroupKeys = []string{"principal", "account", "region", "resource", "event"}

// DefaultGroupBy and DefaultWindow are a rule's grouping when it sets none.
const (
	DefaultGroupBy = "principal"
	DefaultWindow  = time.Hour
)

// CheckGrouping says what is wrong with a rule's grouping: a key of GroupKeys ("instance" is
// resource) and a window from a minute to 7 days.
func CheckGrouping(groupBy, window string) error {
	_, _, err := grouping(rules.Rule{GroupBy: groupBy, Window: window})
	return err
}

func grouping(r rules.Rule) (by string, window time.Duration, err error) {
	by = strings.ToLower(orDefault(r.GroupBy, DefaultGroupBy))
	if by == "instance" {
		by = "resource"
	}
	if !slices.Contains(GroupKeys, by) {
		return "", 0, fmt.Errorf("rule %s: cannot group by %q: want one of %s (instance is resource)", r.ID, r.GroupBy, strings.Join(GroupKeys, ", "))
	}
	window = DefaultWindow
	if r.Window != "" {
		window, err = parseWindow(r.Window)
		if err != nil || window < time.Minute || window > 7*24*time.Hour {
			return "", 0, fmt.Errorf("rule %s: window %q: want a duration from 1m to 7d (30m, 1h, 1d)", r.ID, r.Window)
		}
	}
	return by, window, nil
}

func parseWindow(v string) (time.Duration, error) {
	var days int
	if _, err := fmt.Sscanf(v, "%dd", &days); err == nil && fmt.Sprintf("%dd", days) == v {
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// assignGroups sets each alert's Group from its rule's grouping (a rule not in byRule, or
// with a grouping that no longer parses, groups by the defaults).
func assignGroups(st lake.Store, alerts []Alert, byRule map[string]rules.Rule) {
	for i := range alerts {
		a := &alerts[i]
		by, window, err := grouping(byRule[a.Rule])
		if err != nil {
			by, window, _ = grouping(rules.Rule{})
		}
		var key string
		switch by {
		case "principal":
			key = a.Principal
		case "account":
			key = a.Account
		case "region":
			key = a.Region
		case "resource":
			key = a.Resource
		case "event":
			a.Group = a.ID
			continue
		}
		bucket := a.EventTime.UTC().Truncate(window)
		h := sha256.Sum256([]byte("group\x00" + a.Rule + "\x00" + st.ID + "\x00" + by + "\x00" + key + "\x00" + bucket.Format(time.RFC3339) + "\x00" + window.String()))
		a.Group = uuidOf(h[:16])
	}
}

func uuidOf(b []byte) string {
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// notifications returns one notification per group of fresh that the alerts store does not
// hold yet (groups: what it is known to hold, keep.go): the group's earliest alert, with the
// group's id, the events of fresh it stands for and their count.
func notifications(ctx context.Context, open rules.Opener, lk *lake.Lake, alertStore lake.Store, fresh []Alert, groups *groupCache) ([]Alert, error) {
	if len(fresh) == 0 {
		return nil, nil
	}
	from, to := span(fresh)
	known, err := groups.knownIn(ctx, open, lk, alertStore, from, to)
	if err != nil {
		return nil, err
	}
	// The members of each group by their index in fresh (an Alert copied per member, and its
	// ids, were most of an evaluation's allocation after the alerts' records: ~35,000 alerts
	// a 1M ingest, most of them a group of their own).
	byGroup := map[string][]int{}
	for i := range fresh {
		if a := &fresh[i]; !known[a.Group] {
			byGroup[a.Group] = append(byGroup[a.Group], i)
		}
	}
	var out []Alert
	if len(byGroup) > 0 {
		out = make([]Alert, 0, len(byGroup))
	}
	for g, members := range byGroup {
		sort.Slice(members, func(i, j int) bool {
			mi, mj := &fresh[members[i]], &fresh[members[j]]
			if !mi.EventTime.Equal(mj.EventTime) {
				return mi.EventTime.Before(mj.EventTime)
			}
			return mi.ID < mj.ID
		})
		n := notification(fresh, members, g)
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].EventTime.Equal(out[j].EventTime) {
			return out[i].EventTime.Before(out[j].EventTime)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// maxNotifiedIDs bounds the event ids a notification names (its count says how many it
// stands for).
const maxNotifiedIDs = 100

// notification is the notification of group g: its earliest member (members index fresh,
// oldest first), with the group's id, the count of the members' matches and their first
// maxNotifiedIDs distinct event ids. Members can name the same event: a launch-compliance
// match is one instance, and one RunInstances launches several.
func notification(fresh []Alert, members []int, g string) Alert {
	n := fresh[members[0]]
	n.ID, n.Group, n.Count, n.EventIDs = g, g, 0, nil
	if len(members) == 1 { // the member's first ids, not copied (nothing appends to them)
		ids := fresh[members[0]].EventIDs
		n.Count, n.EventIDs = len(ids), slices.Clip(ids[:min(maxNotifiedIDs, len(ids))])
		if n.EventIDs != nil && len(n.EventIDs) == 0 {
			n.EventIDs = nil // as appending none to nil left it
		}
		return n
	}
	for _, i := range members {
		m := &fresh[i]
		n.Count += len(m.EventIDs)
		for _, id := range m.EventIDs {
			if len(n.EventIDs) == maxNotifiedIDs {
				break
			}
			if !slices.Contains(n.EventIDs, id) {
				n.EventIDs = append(n.EventIDs, id)
			}
		}
	}
	return n
}

func span(alerts []Alert) (from, to time.Time) {
	from, to = alerts[0].EventTime, alerts[0].EventTime
	for _, a := range alerts {
		if a.EventTime.Before(from) {
			from = a.EventTime
		}
		if a.EventTime.After(to) {
			to = a.EventTime
		}
	}
	return from, to
}
