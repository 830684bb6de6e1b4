package compliance

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

var reportHeader = []string{"instance_id", "account_id", "region", "launched_at", "launched_by", "role_arn", "source_identity", "launcher",
	"template_id", "template_name", "template_version", "status", "reason", "terminated_at", "runtime_hours", "unblended_cost", "effective_cost", "auto_scaling_group"}

func (r Row) fields() []string {
	end := ""
	if r.TerminatedAt != nil {
		end = r.TerminatedAt.Format(time.RFC3339)
	}
	return []string{r.InstanceID, r.AccountID, r.Region, r.LaunchedAt.Format(time.RFC3339), r.LaunchedBy, r.RoleARN, r.SourceIdentity, r.Launcher,
		r.TemplateID, r.TemplateName, r.TemplateVersion, r.Status, r.Reason, end, ff(r.RuntimeHours), ff(r.UnblendedCost), ff(r.EffectiveCost), r.AutoScalingGroup}
}

func ff(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func money(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// WriteJSON writes v as indented JSON. A report's rows are written one compact object per
// line: indenting tens of thousands of rows cost more than building the report.
func WriteJSON(w io.Writer, v any) error {
	r, ok := v.(*Report)
	if !ok {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cur, _ := json.Marshal(r.Currency)
	fmt.Fprintf(bw, "{\n  \"currency\": %s,\n  \"rows\": [", cur)
	for i := range r.Rows {
		b, err := json.Marshal(&r.Rows[i])
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(r.Rows) > 0 {
		bw.WriteString("\n  ")
	}
	sum, err := json.MarshalIndent(r.Summary, "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "],\n  \"summary\": %s\n}\n", sum)
	return bw.Flush()
}

// SafeCSVCell puts ' before a text cell that starts with a character spreadsheets take as the
// start of a formula (=, +, -, @) or strip before one (tab, carriage return), as OWASP's CSV
// injection guidance says; the cell then shows as the text it is. Callers apply it to text
// cells only: a number such as -5 must stay a number.
func SafeCSVCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// TerminalCell is s as one cell of a text table for a terminal: a line break, carriage return
// or tab becomes a space, so that a value (a session name, an Auto Scaling group's name, any
// text of a trail file) cannot start a line that reads as another row, and every other control
// character (ESC, BEL, C1 controls) becomes U+FFFD, so that none reaches the terminal, where
// it could clear the screen, set the window title or hide text.
func TerminalCell(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

// numericFields are the report's CSV columns that hold numbers (never neutralised).
var numericFields = map[string]bool{"runtime_hours": true, "unblended_cost": true, "effective_cost": true}

// WriteCSV writes the report's rows as CSV with a header (full precision, RFC 3339 times). With
// safe, text cells a spreadsheet would run as formulas are neutralised (SafeCSVCell): principal
// ARNs, template and group names come from events.
func (r *Report) WriteCSV(w io.Writer, safe bool) error {
	cw := csv.NewWriter(w)
	cw.Write(reportHeader)
	for _, row := range r.Rows {
		f := row.fields()
		for i := range f {
			if safe && !numericFields[reportHeader[i]] {
				f[i] = SafeCSVCell(f[i])
			}
		}
		cw.Write(f)
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the report as an aligned text table for a terminal, then the summary.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tACCOUNT\tLAUNCHED\tLAUNCHED BY\tLAUNCHER\tGROUP\tTEMPLATE\tVERSION\tSTATUS\tTERMINATED\tHOURS\tUNBLENDED\tEFFECTIVE\tREASON")
	for _, row := range r.Rows {
		end := "-"
		if row.TerminatedAt != nil {
			end = row.TerminatedAt.Format("2006-01-02 15:04")
		}
		tmpl := row.TemplateID
		if row.TemplateName != "" {
			tmpl += " (" + row.TemplateName + ")"
		}
		c := TerminalCell
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\n", c(row.InstanceID), c(row.AccountID), row.LaunchedAt.Format("2006-01-02 15:04"),
			c(row.LaunchedBy), c(row.Launcher), c(dash(row.AutoScalingGroup)), c(dash(tmpl)), c(dash(row.TemplateVersion)), c(row.Status), end, row.RuntimeHours, money(row.UnblendedCost), money(row.EffectiveCost), c(row.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "\n%s: %d approved, %d not approved, %d without a template. Cost %s %s unblended, %s effective; %s %s outside approved templates.\n",
		count(s.Instances, "instance", "instances"), s.Approved, s.NotApproved, s.NoTemplate, money(s.Unblended), r.Currency, money(s.Effective), money(s.NotApprovedCost), r.Currency)
	return err
}

// count renders n with the noun in the number n asks for: "1 instance", "2 instances".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
