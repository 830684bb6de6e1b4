package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/rules"
)

// Issue 19's throughput targets: a hunt of every rule over a store, and ingest with every
// rule evaluated at each commit against the same ingest without rules.

// assumeRoleMisuse is the community rule that matches most assumed-role calls (most of the
// generator's events): the hunt is also timed without it, to show what fetching its matches costs.
const assumeRoleMisuse = "905d389b-b853-46d0-9d3d-dea0d3a3cd49"

// addRules registers the Sigma rules of sigmaDir and the built-ins (launch-compliance with
// approved) in data's lake, the rules of disable disabled.
func addRules(bin, data, sigmaDir, approved string, disable ...string) error {
	if _, _, err := timeCmd(bin, "--data", data, "rule", "add", "--sigma", sigmaDir); err != nil {
		return err
	}
	for _, id := range disable {
		if _, _, err := timeCmd(bin, "--data", data, "rule", "disable", id); err != nil {
			return err
		}
	}
	for _, b := range []string{"root-account-use", "cloudtrail-logging-stopped", "console-login-without-mfa"} {
		if _, _, err := timeCmd(bin, "--data", data, "rule", "add", b, "--builtin", b); err != nil {
			return err
		}
	}
	_, _, err := timeCmd(bin, "--data", data, "rule", "add", "non-approved-launch", "--builtin", "launch-compliance", "--approved-config", approved)
	return err
}

// huntBench times `auditlake hunt --rules all` over data's store "bench" (every registered rule,
// added first from sigmaDir and the built-ins when there are none), rounds times, and the
// same without the AssumeRole Misuse rule, alternating.
func huntBench(ctx context.Context, bin, data, sigmaDir, approved string, rounds int) error {
	lk, _, m, err := openStore(data, "bench")
	if err != nil {
		return err
	}
	all, err := rules.List(lk)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		if err := addRules(bin, data, sigmaDir, approved); err != nil {
			return err
		}
		if all, err = rules.List(lk); err != nil {
			return err
		}
	}
	var others []string
	for _, r := range all {
		if r.Enabled && r.ID != assumeRoleMisuse {
			others = append(others, r.ID)
		}
	}
	hunt := func(list string) (measured, string, error) {
		return timeCmdOut(io.Discard, bin, "--data", data, "hunt", "--eds", "bench", "--rules", list, "--format", "csv")
	}
	var every, without []measured
	var summary [2]string
	for range rounds {
		for i, list := range []string{"all", strings.Join(others, ",")} {
			ms, out, err := hunt(list)
			if err != nil {
				return err
			}
			if i == 0 {
				every = append(every, ms)
			} else {
				without = append(without, ms)
			}
			summary[i] = lastLine(out)
		}
	}
	fmt.Printf("\n## Detections: a hunt of every rule over %d events (`auditlake hunt --rules all --format csv`, %d alternating runs each)\n\n", m.Rows(), rounds)
	fmt.Println("| what | wall, median | CPU (user+sys), median | peak RSS | the hunt's summary | target |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for i, r := range []struct {
		name string
		ms   []measured
	}{{fmt.Sprintf("hunt all rules over %d events (%d rules)", m.Rows(), len(others)+1), every},
		{fmt.Sprintf("the same without AssumeRole Misuse (%d rules)", len(others)), without}} {
		md := median(r.ms)
		target := "—"
		if i == 0 {
			t := huntTarget(m.Rows(), md.wall)
			target = t.limit + " at 10M events: " + t.verdict
			record(t)
		}
		fmt.Printf("| %s | %.2f s (%s) | %.2f s | %.0f MiB | %s | %s |\n", r.name, md.wall.Seconds(), walls(r.ms), medianOf(cpus(r.ms)).Seconds(),
			float64(md.maxRSS)/1024, summary[i], target)
	}
	return nil
}

// huntTarget is issue 19's hunt target (every rule over 10M events ≤ 30 s) for a hunt of
// events taking wall; it applies to a store of at least 10M events only.
func huntTarget(events int64, wall time.Duration) target {
	t := absTarget(fmt.Sprintf("19: hunt of every rule over %d events", events), wall.Seconds(), "%.1f s", 30)
	if events < 10_000_000 {
		t.verdict = "n/a: the target is at 10M events"
	}
	return t
}

// lastLine is the last non-empty line of out (the hunt's summary on standard error; the
// matches are CSV lines before it).
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func cpus(ms []measured) []time.Duration {
	var out []time.Duration
	for _, m := range ms {
		out = append(out, m.cpu)
	}
	return out
}

// rulesIngestBench times the ingest of src into a new store with no rules, into one with
// every rule enabled (the Sigma rules of sigmaDir and the built-ins, evaluated at each commit;
// the command returns when the evaluation is done and the alerts are stored), and into one
// with every rule but AssumeRole Misuse (most of the generator's events are alerts of it),
// alternating, rounds times each (without the ingest with every rule unless everyRule).
func rulesIngestBench(bin, src, work, sigmaDir, approved string, rounds int, everyRule bool) error {
	ingest := func(withRules bool, disable ...string) (measured, string, error) {
		data := filepath.Join(work, "rules-ingest")
		if err := os.RemoveAll(data); err != nil {
			return measured{}, "", err
		}
		if _, _, err := timeCmd(bin, "--data", data, "eds", "create", "bench"); err != nil {
			return measured{}, "", err
		}
		if withRules {
			if err := addRules(bin, data, sigmaDir, approved, disable...); err != nil {
				return measured{}, "", err
			}
		}
		return timeCmd(bin, "--data", data, "ingest", "cloudtrail", "--eds", "bench", src)
	}
	var without, with, most []measured
	var alerts [2]string
	if err := warmUp(bin, src, work); err != nil {
		return err
	}
	for range rounds {
		m, _, err := ingest(false)
		if err != nil {
			return err
		}
		without = append(without, m)
		m, out, err := ingest(true, assumeRoleMisuse)
		if err != nil {
			return err
		}
		most = append(most, m)
		alerts[1] = alertLines(out)
		if everyRule {
			m, out, err = ingest(true)
			if err != nil {
				return err
			}
			with = append(with, m)
			alerts[0] = alertLines(out)
		}
	}
	w0 := median(without)
	fmt.Printf("\n## Detections: ingest with every rule evaluated at each commit vs without (%d alternating runs each%s)\n\n", rounds, warmedUp())
	fmt.Println("| what | wall, median | CPU (user+sys), median | peak RSS | ratio to baseline (wall; CPU) | target |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	fmt.Printf("| `ingest cloudtrail`, no rules (baseline) | %.2f s (%s) | %.2f s | %.0f MiB | 1 | |\n", w0.wall.Seconds(), walls(without),
		medianOf(cpus(without)).Seconds(), float64(w0.maxRSS)/1024)
	for i, r := range []struct {
		name string
		ms   []measured
	}{{"ingest with all rules vs without (ratio): 57 Sigma + 4 built-ins", with}, {"the same without AssumeRole Misuse", most}} {
		if len(r.ms) == 0 {
			continue
		}
		w := median(r.ms)
		target := "—"
		if i == 0 {
			t := ratioTarget("19: ingest with every rule / without", w.wall.Seconds(), w0.wall.Seconds(), "%.2f s", 1.15)
			target = t.limit + ": " + t.verdict
			record(t)
		}
		fmt.Printf("| %s | %.2f s (%s) | %.2f s | %.0f MiB | %.2f; %.2f | %s |\n", r.name, w.wall.Seconds(), walls(r.ms), medianOf(cpus(r.ms)).Seconds(),
			float64(w.maxRSS)/1024, w.wall.Seconds()/w0.wall.Seconds(), medianOf(cpus(r.ms)).Seconds()/medianOf(cpus(without)).Seconds(), target)
	}
	fmt.Printf("\nThe ingests' alert lines (last run): all rules: %s; without AssumeRole Misuse: %s\n", alerts[0], alerts[1])
	return nil
}

// alertLines are the lines of an ingest's output about rules and alerts.
func alertLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(l), "alert") || strings.Contains(strings.ToLower(l), "rule") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return strings.Join(keep, "; ")
}

// huntProfile prints, slowest first, each enabled rule of data's store "bench" with the CPU
// time (the engine's threads included) its query took in one hunt (rules.Hunt), to find what
// to speed up.
func huntProfile(ctx context.Context, data string, w io.Writer) error {
	lk, err := lake.Open(data)
	if err != nil {
		return err
	}
	st, err := lk.Resolve("bench")
	if err != nil {
		return err
	}
	all, err := rules.List(lk)
	if err != nil {
		return err
	}
	s, err := query.Open(ctx, lk, query.Options{MemoryLimit: "4GB", MaxResultBytes: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	type timing struct {
		rule rules.Rule
		cpu  time.Duration
		n    int
	}
	var ts []timing
	h := rules.NewHunt(s, rules.Target{Store: st})
	for _, r := range all {
		if r.Enabled {
			start := processCPU()
			// Streamed and counted, as auditlake hunt runs it (not held: 7M matches at 10M).
			n, err := h.Stream(ctx, r, func(*rules.Match) error { return nil })
			if err != nil {
				return err
			}
			ts = append(ts, timing{r, processCPU() - start, n})
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].cpu > ts[j].cpu })
	for _, t := range ts {
		fmt.Fprintf(w, "%8.3f s CPU %8d matches  %s  %s\n", t.cpu.Seconds(), t.n, t.rule.ID, t.rule.Title)
	}
	return nil
}

// evalBatch times rules.EvaluateAll of every enabled rule over the last n data files of
// data's store "bench" (a commit's batch, as ingest evaluates it).
func evalBatch(ctx context.Context, data string, n int, w io.Writer) error {
	lk, st, m, err := openStore(data, "bench")
	if err != nil {
		return err
	}
	all, err := rules.List(lk)
	if err != nil {
		return err
	}
	var enabled []rules.Rule
	for _, r := range all {
		if r.Enabled {
			enabled = append(enabled, r)
		}
	}
	files := m.Files[max(len(m.Files)-n, 0):]
	var rows int64
	for _, f := range files {
		rows += f.Rows
	}
	s, err := query.Open(ctx, lk, query.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	start, cpu := time.Now(), processCPU()
	ms, err := rules.EvaluateAll(ctx, s, enabled, rules.Target{Store: st, Files: files})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "EvaluateAll of %d rules over %d files (%d events): %d matches in %.2f s, %.2f s CPU\n", len(enabled), len(files), rows, len(ms),
		time.Since(start).Seconds(), (processCPU() - cpu).Seconds())
	return nil
}
