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
			"text": map[string]any{"type": "mrkdwn", "text": "*" + clip(slackEscape(summaryLine(a)), 2900) + "*"},
		}, map[string]any{
			"type":   "section",
			"fields": slackFields(a),
		})
		if a.Summary != "" {
			blocks = append(blocks, map[string]any{
				"type": "section",
				"text": map[string]any{"type": "mrkdwn", "text": clip(slackEscape(a.Summary), 2900)},
			})
		}
	}
	return map[string]any{"text": clip(strings.Join(text, "\n"), 3000), "blocks": blocks}
}

// slackFields are an alert's fields but its summary (a block of its own): at most 10, each
// within Slack's 2,000 characters.
func slackFields(a Alert) []any {
	var out []any
	for _, f := range alertFields(a) {
		if f[0] == "Summary" {
			continue
		}
		out = append(out, map[string]any{"type": "mrkdwn", "text": "*" + f[0] + "*\n" + clip(slackEscape(f[1]), 1900)})
	}
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

// clip cuts s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "…"
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
