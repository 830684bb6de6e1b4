package alerts

import (
	"fmt"
	"strings"
	"time"
)

// slackBody is a Slack incoming-webhook message for alerts: "text" (what notifications and
// clients without blocks show) and, per alert, a section block with its fields. Slack's
// control characters &, < and > in alert values are escaped, so an event's text cannot
// mention a channel or forge a link.
func slackBody(alerts []Alert) map[string]any {
	var text []string
	blocks := []any{}
	for _, a := range alerts {
		text = append(text, slackEscape(summaryLine(a)))
		blocks = append(blocks, map[string]any{
			"type": "section",
			"text": map[string]any{"type": "mrkdwn", "text": "*" + slackEscape(summaryLine(a)) + "*"},
		}, map[string]any{
			"type":   "section",
			"fields": slackFields(a),
		})
	}
	return map[string]any{"text": strings.Join(text, "\n"), "blocks": blocks}
}

func slackFields(a Alert) []any {
	var out []any
	for _, f := range alertFields(a) {
		out = append(out, map[string]any{"type": "mrkdwn", "text": "*" + f[0] + "*\n" + slackEscape(f[1])})
	}
	if len(out) > 10 { // Slack takes at most 10 fields a section
		out = out[:10]
	}
	return out
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// summaryLine is an alert in one line: severity, title, count, key.
func summaryLine(a Alert) string {
	line := fmt.Sprintf("[%s] %s", strings.ToUpper(orDefault(a.Severity, "medium")), orDefault(a.Title, a.Rule))
	if n := a.count(); n > 1 {
		line += fmt.Sprintf(" (%d events)", n)
	}
	if a.Principal != "" {
		line += " by " + a.Principal
	}
	return line
}

// count is how many events the alert stands for.
func (a Alert) count() int {
	return max(a.Count, len(a.EventIDs), 1)
}

// alertFields are an alert's labelled values, as mail lines and Slack fields show them.
func alertFields(a Alert) [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("Rule", a.Rule)
	add("Severity", a.Severity)
	add("Events", fmt.Sprint(a.count()))
	add("Principal", a.Principal)
	add("Account", a.Account)
	add("Region", a.Region)
	add("Resource", a.Resource)
	if !a.EventTime.IsZero() {
		add("Time", a.EventTime.UTC().Format(time.RFC3339))
	}
	add("Store", a.Store)
	add("Summary", a.Summary)
	add("Alert", a.ID)
	return out
}
