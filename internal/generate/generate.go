// Package generate writes a synthetic but realistic AWS organization's CloudTrail delivery: gzipped
// {"Records":[…]} files in the real organization-trail S3 key layout, with everyday noise and the
// EC2 lifecycle auditlake reports on (launch templates, launches by Auto Scaling, EC2 Fleet, Spot
// Fleet, EMR, EKS, console, CLI and SDKs, stops, terminations, Spot interruptions), plus a
// truth.json that states what every report should find.
//
// Output is a pure function of the Config: the same seed gives byte-identical files. The plan
// (accounts, templates, launches, instances) is built up front and is small; noise events are
// drawn per file from a per-file seed while files are written in parallel, so memory stays flat
// whatever the event count.
package generate

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what to generate. Zero fields of a Config from DefaultConfig keep their defaults.
type Config struct {
	// Out is the directory that receives AWSLogs/… and truth.json.
	Out string
	// Events is the exact number of distinct CloudTrail events (distinct eventIDs) written.
	// Duplicate deliveries come on top of it.
	Events   int
	Seed     uint64
	Accounts int
	Regions  []string
	Start    time.Time
	Days     int
	Org      string
	// Workers is the number of files written at once; 0 means GOMAXPROCS.
	Workers int
	// Force replaces an earlier generation in Out (AWSLogs/<org>/ and truth.json) instead of
	// refusing to mix two generations.
	Force bool
	// CUR also writes cost files (CUR 1.0 and CUR 2.0) for the instances; see WriteCUR.
	CUR bool
}

// DefaultConfig returns the defaults of `auditlake generate`.
func DefaultConfig() Config {
	return Config{Events: 10000, Seed: 1, Accounts: 4, Regions: []string{"us-east-1", "eu-west-1"},
		Start: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), Days: 30, Org: "o-abc123def4"}
}

var (
	orgRE    = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// Validate checks every field and names the one that is wrong.
func (c Config) Validate() error {
	switch {
	case c.Out == "":
		return errors.New("out: an output directory is required")
	case c.Events < 50:
		return fmt.Errorf("events %d: must be at least 50", c.Events)
	case c.Accounts < 1 || c.Accounts > 1000:
		return fmt.Errorf("accounts %d: must be between 1 and 1000", c.Accounts)
	case len(c.Regions) == 0:
		return errors.New("regions: at least one region is required")
	case c.Days < 1 || c.Days > 3660:
		return fmt.Errorf("days %d: must be between 1 and 3660", c.Days)
	case !orgRE.MatchString(c.Org):
		return fmt.Errorf("org %q: must look like o-abc123def4", c.Org)
	case c.Start.IsZero():
		return errors.New("start: a start date is required")
	case c.Workers < 0:
		return fmt.Errorf("workers %d: must not be negative", c.Workers)
	}
	seen := map[string]bool{}
	for _, r := range c.Regions {
		if !regionRE.MatchString(r) {
			return fmt.Errorf("regions: %q is not a region name such as us-east-1", r)
		}
		if seen[r] {
			return fmt.Errorf("regions: %q is listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

// Summary reports what Run wrote.
type Summary struct {
	Files      int64 `json:"files"`
	Events     int64 `json:"events"`
	Duplicates int64 `json:"duplicateDeliveries"`
	Records    int64 `json:"records"`
	Bytes      int64 `json:"bytes"`
	JSONBytes  int64 `json:"jsonBytes"`
	Instances  int   `json:"instances"`
	// CURFiles and CURLines count cost files and current line items (zero without Config.CUR).
	CURFiles int   `json:"curFiles"`
	CURLines int64 `json:"curLines"`
}

// slot is the time span one CloudTrail file covers.
const slot = 5 * time.Minute

// eventsPerFile is the mean number of events per delivery file the planner aims at.
const eventsPerFile = 150

// fileSpec is one planned delivery file.
type fileSpec struct {
	a, reg     int16
	slot       int32
	noise      int32
	lcLo, lcHi int32
	dup        bool
}

// Run generates the files and truth.json for cfg.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Summary, error) {
	p, err := NewPlan(cfg)
	if err != nil {
		return nil, err
	}
	if err := prepareOut(cfg); err != nil {
		return nil, err
	}
	files := planFiles(p)
	log.Debug("generate plan", "files", len(files), "launches", len(p.Launches), "instances", len(p.Instances), "lifecycle", len(p.lc))
	sum, err := writeFiles(ctx, p, files)
	if err != nil {
		return nil, err
	}
	sum.Instances = len(p.Instances)
	if cfg.CUR {
		cs, err := WriteCUR(p)
		if err != nil {
			return nil, err
		}
		sum.CURFiles, sum.CURLines = cs.Files, cs.Lines
	}
	if err := writeTruth(p, sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// prepareOut creates Out and refuses to mix with an earlier generation unless Force is set.
func prepareOut(cfg Config) error {
	tree := filepath.Join(cfg.Out, "AWSLogs", cfg.Org)
	truth := filepath.Join(cfg.Out, "truth.json")
	_, errTree := os.Stat(tree)
	_, errTruth := os.Stat(truth)
	if errTree == nil || errTruth == nil {
		if !cfg.Force {
			return fmt.Errorf("output %q already holds a generation (AWSLogs/%s or truth.json); use --force to replace it", cfg.Out, cfg.Org)
		}
		if err := os.RemoveAll(tree); err != nil {
			return fmt.Errorf("remove earlier generation %q: %w", tree, err)
		}
		if err := os.Remove(truth); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove earlier truth %q: %w", truth, err)
		}
		for _, d := range []string{filepath.Join(cfg.Out, "cur", CURReport), filepath.Join(cfg.Out, "cur2", CURExport)} {
			if err := os.RemoveAll(d); err != nil {
				return fmt.Errorf("remove earlier cost files %q: %w", d, err)
			}
		}
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("create output %q: %w", cfg.Out, err)
	}
	return nil
}

// planFiles spreads the noise budget over every account × region × 5-minute slot, weighted by
// account, region, time of day and weekday, and attaches each lifecycle event to its slot.
// Rounding is cumulative, so the noise counts add up to exactly Events − lifecycle events.
func planFiles(p *Plan) []fileSpec {
	nA, nR := len(p.Accounts), len(p.Regions)
	perAR := p.Config.Days * int(24*time.Hour/slot)
	r := newRand(mix(p.Config.Seed, 4))
	acctW := make([]float64, nA)
	for a := range acctW {
		acctW[a] = 0.4 + 1.6*r.Float64()
	}
	regW := make([]float64, nR)
	for i := range regW {
		regW[i] = 1.0 / float64(1+i)
	}
	w := make([]float32, nA*nR*perAR)
	total := 0.0
	for a := 0; a < nA; a++ {
		for g := 0; g < nR; g++ {
			for s := 0; s < perAR; s++ {
				t := p.Start.Add(time.Duration(s) * slot)
				h := float64(t.Hour()) + float64(t.Minute())/60
				day := 0.35 + 0.65*math.Max(0, math.Sin((h-7)/12*math.Pi)) // busy 07–19 UTC
				if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
					day *= 0.45
				}
				x := float32(acctW[a] * regW[g] * day * (0.6 + 0.8*r.Float64()))
				w[(a*nR+g)*perAR+s] = x
				total += float64(x)
			}
		}
	}
	// Only some slots deliver a file: about one per eventsPerFile events, busier slots more
	// likely. A real quiet account also skips many 5-minute windows, and small files would gzip
	// far worse than real ones.
	want := float64(p.Config.Events) / eventsPerFile
	active := 0.0
	for i, x := range w {
		if pa := want * float64(x) / total; pa < 1 && r.Float64() >= pa {
			w[i] = 0
		}
		active += float64(w[i])
	}
	total = active
	noise := float64(p.Config.Events - len(p.lc))
	var files []fileSpec
	cum, prev := 0.0, int64(0)
	lc := 0
	for a := 0; a < nA; a++ {
		for g := 0; g < nR; g++ {
			for s := 0; s < perAR; s++ {
				cum += float64(w[(a*nR+g)*perAR+s])
				upto := int64(math.Round(noise * cum / total))
				if a == nA-1 && g == nR-1 && s == perAR-1 {
					upto = int64(noise)
				}
				f := fileSpec{a: int16(a), reg: int16(g), slot: int32(s), noise: int32(upto - prev), lcLo: int32(lc)}
				prev = upto
				end := p.Start.Add(time.Duration(s+1) * slot)
				for lc < len(p.lc) && int(p.lc[lc].acct) == a && int(p.lc[lc].region) == g && p.lc[lc].at.Before(end) {
					lc++
				}
				f.lcHi = int32(lc)
				if f.noise > 0 || f.lcHi > f.lcLo {
					files = append(files, f)
				}
			}
		}
	}
	target := max(2, p.Config.Events/20000)
	step := max(1, len(files)/target)
	for i := step / 2; i < len(files); i += step {
		files[i].dup = true
	}
	return files
}

// fileName returns the S3 key of a delivery file relative to Out.
func (p *Plan) fileKey(a, reg int, at time.Time, suffix string) string {
	acct, region := p.Accounts[a].ID, p.Regions[reg]
	return fmt.Sprintf("AWSLogs/%s/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", p.Config.Org, acct, region,
		at.Format("2006/01/02"), acct, region, at.Format("20060102T1504Z"), suffix)
}

func writeFiles(ctx context.Context, p *Plan, files []fileSpec) (*Summary, error) {
	workers := p.Config.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sum Summary
	var next atomic.Int64
	var dirs sync.Map
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw := newFileWriter(p, &dirs)
			for {
				i := next.Add(1) - 1
				if i >= int64(len(files)) || ctx.Err() != nil {
					return
				}
				if err := fw.write(&files[i], &sum); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sum.Events != int64(p.Config.Events) {
		return nil, fmt.Errorf("generate: wrote %d events, planned %d", sum.Events, p.Config.Events)
	}
	return &sum, nil
}

// fileWriter writes files for one worker, reusing its buffers.
type fileWriter struct {
	p     *Plan
	dirs  *sync.Map
	s     scratch
	body  jbuf
	dup   jbuf
	gz    bytes.Buffer
	zw    *gzip.Writer
	times []int32
	e     ev
}

func newFileWriter(p *Plan, dirs *sync.Map) *fileWriter {
	fw := &fileWriter{p: p, dirs: dirs}
	fw.zw, _ = gzip.NewWriterLevel(&fw.gz, gzip.DefaultCompression)
	return fw
}

func (fw *fileWriter) write(f *fileSpec, sum *Summary) error {
	p := fw.p
	r := newRand(mix(p.Config.Seed, 5, uint64(f.a), uint64(f.reg), uint64(f.slot)))
	start := p.Start.Add(time.Duration(f.slot) * slot)
	delivered := start.Add(slot)
	suffix := chars(r, anyAlnum, 16)
	fw.times = fw.times[:0]
	for i := int32(0); i < f.noise; i++ {
		fw.times = append(fw.times, int32(r.IntN(int(slot/time.Second))))
	}
	slices.Sort(fw.times)
	total := int(f.noise) + int(f.lcHi-f.lcLo)
	dupPick := map[int]bool{}
	if f.dup {
		for k := 1 + r.IntN(min(3, total)); len(dupPick) < k; {
			dupPick[r.IntN(total)] = true
		}
	}
	c := noiseCtx{r: r, s: &fw.s, plan: p, acct: &p.Accounts[f.a], a: int(f.a), reg: int(f.reg), region: p.Regions[f.reg]}
	fw.body.b = append(fw.body.b[:0], `{"Records":[`...)
	fw.dup.b = append(fw.dup.b[:0], `{"Records":[`...)
	ni, li := 0, f.lcLo
	for n := 0; n < total; n++ {
		if li < f.lcHi && (ni >= len(fw.times) || !p.lc[li].at.After(start.Add(time.Duration(fw.times[ni])*time.Second))) {
			fillLifecycle(p, &fw.s, &p.lc[li], &fw.e)
			li++
		} else {
			fillNoise(&c, &fw.e, start.Add(time.Duration(fw.times[ni])*time.Second))
			ni++
		}
		from := len(fw.body.b)
		render(&fw.body, r, &fw.e)
		if dupPick[n] {
			fw.dup.raw(bytes.TrimPrefix(fw.body.b[from:], []byte{','}))
		}
	}
	fw.body.b = append(fw.body.b, "]}"...)
	if err := fw.flush(p.fileKey(int(f.a), int(f.reg), delivered, suffix), fw.body.b, sum); err != nil {
		return err
	}
	atomic.AddInt64(&sum.Events, int64(total))
	atomic.AddInt64(&sum.Records, int64(total))
	if f.dup {
		fw.dup.b = append(fw.dup.b, "]}"...)
		late := delivered.Add(time.Duration(5+r.IntN(10)) * time.Minute)
		if err := fw.flush(p.fileKey(int(f.a), int(f.reg), late, chars(r, anyAlnum, 16)), fw.dup.b, sum); err != nil {
			return err
		}
		atomic.AddInt64(&sum.Duplicates, int64(len(dupPick)))
		atomic.AddInt64(&sum.Records, int64(len(dupPick)))
	}
	return nil
}

// flush gzips body and writes it under Out at key.
func (fw *fileWriter) flush(key string, body []byte, sum *Summary) error {
	fw.gz.Reset()
	fw.zw.Reset(&fw.gz)
	if _, err := fw.zw.Write(body); err != nil {
		return fmt.Errorf("gzip %q: %w", key, err)
	}
	if err := fw.zw.Close(); err != nil {
		return fmt.Errorf("gzip %q: %w", key, err)
	}
	path := filepath.Join(fw.p.Config.Out, filepath.FromSlash(key))
	dir := filepath.Dir(path)
	if _, ok := fw.dirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory %q: %w", dir, err)
		}
		fw.dirs.Store(dir, true)
	}
	if err := os.WriteFile(path, fw.gz.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write cloudtrail file %q: %w", path, err)
	}
	atomic.AddInt64(&sum.Files, 1)
	atomic.AddInt64(&sum.Bytes, int64(fw.gz.Len()))
	atomic.AddInt64(&sum.JSONBytes, int64(len(body)))
	return nil
}

// writeTruth writes Out/truth.json.
func writeTruth(p *Plan, sum *Summary) error {
	t := Truth{Seed: p.Config.Seed, Org: p.Config.Org, Accounts: p.Accounts, Regions: p.Regions, Start: p.Start, End: p.End,
		ApprovedTemplateIDs: []string{}, Templates: p.Templates, Instances: p.Instances, Totals: TruthTotals{Summary: *sum}}
	for _, tp := range p.Templates {
		if tp.Approved {
			t.ApprovedTemplateIDs = append(t.ApprovedTemplateIDs, tp.ID)
		}
	}
	for _, l := range p.Launches {
		t.Launches = append(t.Launches, TruthLaunch{EventID: l.EventID, Launcher: l.Kind, Outcome: l.Outcome, Account: p.Accounts[l.Account].ID,
			Region: p.Regions[l.Region], Time: l.At, PrincipalARN: l.by.arn, Instances: len(l.Instances)})
		switch l.Outcome {
		case OutcomeLaunched:
			t.Totals.LaunchEvents++
		case OutcomeDryRun:
			t.Totals.DryRuns++
		default:
			t.Totals.FailedLaunches++
		}
	}
	path := filepath.Join(p.Config.Out, "truth.json")
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return fmt.Errorf("encode truth: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write truth %q: %w", path, err)
	}
	// The organization's allow-list in the form `report launch-compliance --approved-config`
	// reads, so demos and tests pass it as a user would.
	type approved struct {
		ID string `json:"id"`
	}
	cfg := struct {
		Templates []approved `json:"approved_templates"`
	}{Templates: []approved{}}
	for _, id := range t.ApprovedTemplateIDs {
		cfg.Templates = append(cfg.Templates, approved{ID: id})
	}
	b, err = json.MarshalIndent(cfg, "", " ")
	if err != nil {
		return err
	}
	path = filepath.Join(p.Config.Out, "approved-templates.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write approved templates %q: %w", path, err)
	}
	return nil
}

// Truth is the content of truth.json: what reports over the generated files must find.
type Truth struct {
	Seed                uint64        `json:"seed"`
	Org                 string        `json:"org"`
	Accounts            []Account     `json:"accounts"`
	Regions             []string      `json:"regions"`
	Start               time.Time     `json:"start"`
	End                 time.Time     `json:"end"`
	ApprovedTemplateIDs []string      `json:"approvedTemplateIds"`
	Templates           []*Template   `json:"templates"`
	Launches            []TruthLaunch `json:"launches"`
	Instances           []Instance    `json:"instances"`
	Totals              TruthTotals   `json:"totals"`
}

// TruthLaunch is one RunInstances call, including dry runs and failures that launched nothing.
type TruthLaunch struct {
	EventID      string    `json:"eventId"`
	Launcher     Launcher  `json:"launcher"`
	Outcome      string    `json:"outcome"`
	Account      string    `json:"account"`
	Region       string    `json:"region"`
	Time         time.Time `json:"time"`
	PrincipalARN string    `json:"principalArn"`
	Instances    int       `json:"instances"`
}

// TruthTotals counts what was written. Events counts distinct eventIDs; Records counts records in
// files, Events + Duplicates.
type TruthTotals struct {
	Summary
	LaunchEvents   int `json:"launchEvents"`
	DryRuns        int `json:"dryRuns"`
	FailedLaunches int `json:"failedLaunches"`
}
