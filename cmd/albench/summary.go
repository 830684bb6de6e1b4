package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// The report's closing "Targets" table (issue 21's acceptance: each target's figure beside its
// baseline and the ratio). Each section that measures a numeric target of issues 16, 19, 20 and
// 21 prints it where it is measured, with whether it is met, and appends the same line to the
// file named by -targets (by default $ALBENCH_TARGETS; none: nothing is recorded); `albench
// -targets-table FILE` prints the lines collected there as one table at the end of the report.

// target is one row of the table: a figure against a limit, either as a ratio to a baseline
// measured in the same run (baseline set) or as an absolute figure (a duration, a share).
type target struct {
	name     string // the issue and target, e.g. "19: hunt of every rule over 10M events"
	figure   string // the measured figure, formatted
	baseline string // the baseline it is compared with ("—" for an absolute target)
	ratio    string // figure / baseline ("—" for an absolute target)
	limit    string // the target, e.g. "≤ 1.2 ×"
	verdict  string // "met", "not met", or why it does not apply to this run
}

// targetsFile is where the targets are appended (the -targets flag; "" records nothing).
var targetsFile string

// verdict says whether value meets the limit (value ≤ limit).
func verdict(value, limit float64) string {
	if value <= limit {
		return "met"
	}
	return "not met"
}

// ratioTarget is a target on figure / baseline ≤ limit; unit formats both figures (e.g. "%.2f s").
func ratioTarget(name string, figure, baseline float64, unit string, limit float64) target {
	r := figure / baseline
	return target{name: name, figure: fmt.Sprintf(unit, figure), baseline: fmt.Sprintf(unit, baseline),
		ratio: fmt.Sprintf("%.2f", r), limit: fmt.Sprintf("≤ %.2f ×", limit), verdict: verdict(r, limit)}
}

// absTarget is a target on an absolute figure: value ≤ limit, both formatted with unit.
func absTarget(name string, value float64, unit string, limit float64) target {
	return target{name: name, figure: fmt.Sprintf(unit, value), baseline: "—", ratio: "—",
		limit: "≤ " + fmt.Sprintf(unit, limit), verdict: verdict(value, limit)}
}

// record appends t to the targets file, if there is one. A failure to record is reported on
// standard error and does not fail the measurement.
func record(t target) {
	if targetsFile == "" {
		return
	}
	f, err := os.OpenFile(targetsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = fmt.Fprintln(f, strings.Join([]string{t.name, t.figure, t.baseline, t.ratio, t.limit, t.verdict}, "\t"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "albench: recording a target:", err)
	}
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\t", " ") }

// printTargets prints the targets recorded in file as the "Targets" table: every line in the
// order recorded, and how many are met. A missing file is a table with no rows; a line that
// is not six tab-separated fields is an error naming it.
func printTargets(file string, w io.Writer) error {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		f = nil
	} else if err != nil {
		return err
	}
	var rows [][]string
	if f != nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			fields := strings.Split(sc.Text(), "\t")
			if len(fields) != 6 {
				return fmt.Errorf("%s:%d: %d fields, want 6 (target, figure, baseline, ratio, limit, met)", file, n, len(fields))
			}
			rows = append(rows, fields)
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	met, notMet := 0, 0
	fmt.Fprintf(w, "\n## Targets\n\n")
	fmt.Fprintln(w, "| target | figure | baseline | ratio | limit | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		for i := range r {
			r[i] = cell(r[i])
		}
		switch r[5] {
		case "met":
			met++
		case "not met":
			notMet++
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintf(w, "\n%d of %d targets met, %d not met, %d not measured at their scale in this run.\n", met, len(rows), notMet, len(rows)-met-notMet)
	return nil
}
