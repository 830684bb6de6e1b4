package generate

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Launcher is the kind of thing that called RunInstances for an instance.
type Launcher string

// Launcher kinds, as written to truth.json.
const (
	LauncherAutoScaling Launcher = "autoscaling"
	LauncherEC2Fleet    Launcher = "ec2fleet"
	LauncherSpotFleet   Launcher = "spotfleet"
	LauncherEMR         Launcher = "emr"
	LauncherEKS         Launcher = "eks"
	LauncherConsole     Launcher = "console"
	LauncherCLI         Launcher = "cli"
	LauncherSDK         Launcher = "sdk"
)

// Launchers lists every launcher kind; the first len(Launchers) launches of a plan use each once.
var Launchers = []Launcher{LauncherAutoScaling, LauncherEKS, LauncherEC2Fleet, LauncherSpotFleet,
	LauncherEMR, LauncherConsole, LauncherCLI, LauncherSDK}

// Termination reasons, as written to truth.json. An instance still running at the end of the
// plan has an empty reason and a zero termination time.
const (
	ReasonUser             = "user" // TerminateInstances by a person or their automation
	ReasonScaleIn          = "autoscaling-scale-in"
	ReasonSpotInterruption = "spot-interruption" // BidEvictedEvent, no API call
	ReasonService          = "service"           // EMR or Spot Fleet ended its own instances
)

// Launch outcomes.
const (
	OutcomeLaunched     = "launched"
	OutcomeDryRun       = "dry-run"      // errorCode Client.DryRunOperation
	OutcomeUnauthorized = "unauthorized" // errorCode Client.UnauthorizedOperation
	OutcomeNoCapacity   = "no-capacity"  // errorCode Server.InsufficientInstanceCapacity
)

// Account is one member account of the generated organization.
type Account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	p    people
}

// Template is one launch template in one account and region.
type Template struct {
	ID       string `json:"templateId"`
	Name     string `json:"templateName"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	Approved bool   `json:"approved"`
	// Versions[i] is the creation time of version i+1. Version 1 is the default version.
	Versions     []time.Time `json:"versions"`
	InstanceType string      `json:"instanceType"`
	ImageID      string      `json:"imageId"`
	acct, region int
	creator      *principal
}

// versionAt returns the latest version number that exists at t.
func (t *Template) versionAt(at time.Time) int {
	v := 0
	for _, c := range t.Versions {
		if !c.After(at) {
			v++
		}
	}
	return max(v, 1)
}

// Interval is a half-open time range.
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Instance is one EC2 instance of the plan: what the CloudTrail files say about it and what a
// cost-file writer needs to bill it hour by hour.
type Instance struct {
	ID               string `json:"instanceId"`
	Account          string `json:"account"`
	Region           string `json:"region"`
	AvailabilityZone string `json:"availabilityZone"`
	InstanceType     string `json:"instanceType"`
	// Spot is true for Spot capacity, false for On-Demand.
	Spot bool `json:"spot"`
	// HourlyPrice is the USD rate billed per running hour (the Spot price for Spot instances).
	HourlyPrice float64   `json:"hourlyPrice"`
	LaunchTime  time.Time `json:"launchTime"`
	// TerminationTime is zero when the instance still runs at the plan's end.
	TerminationTime   time.Time  `json:"terminationTime,omitzero"`
	TerminationReason string     `json:"terminationReason,omitempty"`
	Stopped           []Interval `json:"stopped,omitempty"`
	Launcher          Launcher   `json:"launcher"`
	PrincipalARN      string     `json:"principalArn"`
	// TemplateID, TemplateName and TemplateVersion are the resolved template ("" without one);
	// RequestedVersion is what the caller passed ("3", "$Latest", "$Default").
	TemplateID       string `json:"templateId,omitempty"`
	TemplateName     string `json:"templateName,omitempty"`
	TemplateVersion  string `json:"templateVersion,omitempty"`
	RequestedVersion string `json:"requestedVersion,omitempty"`
	Approved         bool   `json:"approved"`
	LaunchEventID    string `json:"launchEventId"`
	// VolumeID and VolumeGB describe the root EBS volume (gp3), billed while the instance exists.
	VolumeID string `json:"volumeId"`
	VolumeGB int    `json:"volumeGb"`
	// Cost is the unblended cost of the instance-hour lines within the plan (before any
	// Savings Plan negation); SavingsPlanCovered says the cost files bill them as
	// SavingsPlanCoveredUsage with a matching SavingsPlanNegation.
	Cost               float64 `json:"cost"`
	SavingsPlanCovered bool    `json:"savingsPlanCovered"`
	launch             int
}

// RunningHours returns, for each clock hour that the instance ran in (stops excluded), the
// fraction of that hour it ran, in order, clipped to [from, to). A cost writer bills usage
// lines from it.
func (in *Instance) RunningHours(from, to time.Time) []HourUsage {
	end := to
	if !in.TerminationTime.IsZero() && in.TerminationTime.Before(end) {
		end = in.TerminationTime
	}
	var out []HourUsage
	for h := in.LaunchTime.Truncate(time.Hour); h.Before(end); h = h.Add(time.Hour) {
		lo, hi := maxTime(h, in.LaunchTime, from), minTime(h.Add(time.Hour), end)
		run := hi.Sub(lo)
		for _, s := range in.Stopped {
			a, b := maxTime(lo, s.From), minTime(hi, s.To)
			if b.After(a) {
				run -= b.Sub(a)
			}
		}
		if run > 0 {
			out = append(out, HourUsage{Hour: h, Fraction: run.Hours()})
		}
	}
	return out
}

// HourUsage is the part of one clock hour an instance ran.
type HourUsage struct {
	Hour     time.Time
	Fraction float64
}

func maxTime(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.After(m) {
			m = t
		}
	}
	return m
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Launch is one RunInstances call (or, for EC2 Fleet, one CreateFleet plus its RunInstances).
type Launch struct {
	Kind             Launcher
	Outcome          string
	Account, Region  int
	At               time.Time
	Template         *Template
	ByName           bool
	RequestedVersion string
	ResolvedVersion  int
	Count            int
	Instances        []int
	Spot             bool
	InstanceType     string
	AZ               string
	FleetID          string // EC2 Fleet id (instant fleets, also under ASG mixed policies and EKS)
	SpotFleetID      string
	GroupName        string
	JobFlowID        string
	Cluster          string
	EventID          string
	by               *principal
	preset           *preset
}

// preset pins the template choice and count of a launch, so that every plan, however small,
// has the cases reports must handle.
type preset struct {
	template string // "" for no template
	byName   bool
	version  string // "n" for a numeric version
	count    int
}

// presets follow the one-launch-per-kind opening of every plan.
var presets = []struct {
	kind Launcher
	p    preset
}{
	{LauncherCLI, preset{"dev-sandbox", true, "$Latest", 3}},
	{LauncherCLI, preset{"", false, "", 2}},
	{LauncherConsole, preset{"", false, "", 1}},
	{LauncherConsole, preset{"web-server", true, "$Default", 1}},
	{LauncherSDK, preset{"legacy-app", false, "$Default", 2}},
	{LauncherSDK, preset{"", false, "", 1}},
}

// Plan is everything a seed decides before any file is written: the organization, its
// templates, every launch and instance, and the lifecycle events that tell their story. Noise
// events are not in the plan; each file draws its own from a per-file seed.
type Plan struct {
	Config    Config
	Start     time.Time
	End       time.Time
	Accounts  []Account
	Regions   []string
	Templates []*Template
	Launches  []Launch
	Instances []Instance
	nets      [][]network // [account][region]
	lc        []lcEvent   // sorted by account, region, time
}

// network is one account's VPC in one region.
type network struct {
	vpc     string
	subnets []string // one per AZ letter
	sg      string
	amis    []string
	kmsKeys []string
}

// lcKind names a lifecycle event.
type lcKind uint8

const (
	lcCreateTemplate lcKind = iota
	lcCreateTemplateVersion
	lcRunInstances
	lcCreateFleet
	lcRequestSpotFleet
	lcRunJobFlow
	lcTerminate
	lcStop
	lcStart
	lcBidEvicted
)

// lcEvent is one planned event about templates and instances; it is rendered by the worker that
// writes its file.
type lcEvent struct {
	at      time.Time
	kind    lcKind
	acct    int16
	region  int16
	ref     int32 // template, launch or instance index
	version int32 // template version for lcCreateTemplateVersion
	seed    uint64
	by      *principal
	eventID string
}

// instance type catalogue: On-Demand USD/hour in us-east-1.
var instanceTypes = []struct {
	name  string
	price float64
}{
	{"t3.micro", 0.0104}, {"t3.medium", 0.0416}, {"t3.large", 0.0832}, {"m5.large", 0.096},
	{"m5.xlarge", 0.192}, {"m6i.large", 0.096}, {"m6i.2xlarge", 0.384}, {"c5.2xlarge", 0.34},
	{"c6g.xlarge", 0.136}, {"r5.large", 0.126}, {"r6i.xlarge", 0.252}, {"g5.xlarge", 1.006},
}

func priceOf(typ, region string, spot bool) float64 {
	p := 0.1
	for _, it := range instanceTypes {
		if it.name == typ {
			p = it.price
		}
	}
	if !strings.HasPrefix(region, "us-") {
		p *= 1.12
	}
	if spot {
		p *= 0.31
	}
	return float64(int64(p*1e6+0.5)) / 1e6
}

// template catalogue per account and region.
var templateCatalogue = []struct {
	name     string
	approved bool
	typ      string
}{
	{"web-server", true, "m5.large"},
	{"batch-worker", true, "c5.2xlarge"},
	{"eks-node-al2023", true, "m6i.large"},
	{"legacy-app", false, "t3.large"},
	{"dev-sandbox", false, "t3.medium"},
	{"gpu-experiments", false, "g5.xlarge"},
}

var accountNames = []string{"management", "prod", "staging", "dev", "data", "security", "sandbox", "shared-services"}

// NewPlan builds the plan for cfg. It is deterministic in cfg.
func NewPlan(cfg Config) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := newRand(mix(cfg.Seed, 1))
	p := &Plan{Config: cfg, Start: cfg.Start.UTC(), Regions: cfg.Regions}
	p.End = p.Start.Add(time.Duration(cfg.Days) * 24 * time.Hour)
	seen := map[string]bool{}
	for a := 0; a < cfg.Accounts; a++ {
		id := ""
		for id == "" || seen[id] {
			id = fmt.Sprintf("%d%011d", 1+r.IntN(9), r.Int64N(1e11))
		}
		seen[id] = true
		name := accountNames[a%len(accountNames)]
		if a >= len(accountNames) {
			name = fmt.Sprintf("%s-%d", name, a/len(accountNames)+1)
		}
		p.Accounts = append(p.Accounts, Account{ID: id, Name: name, p: newPeople(r, id)})
	}
	p.nets = make([][]network, len(p.Accounts))
	for a := range p.Accounts {
		for range p.Regions {
			n := network{vpc: awsID(r, "vpc-"), sg: awsID(r, "sg-"), kmsKeys: []string{uuid(r), uuid(r), uuid(r)}}
			for i := 0; i < 4; i++ {
				n.subnets = append(n.subnets, awsID(r, "subnet-"))
				n.amis = append(n.amis, awsID(r, "ami-"))
			}
			p.nets[a] = append(p.nets[a], n)
		}
	}
	p.planTemplates(r)
	p.planLaunches(r)
	for i := range p.Instances {
		in := &p.Instances[i]
		in.Cost = float64(int64(in.InstanceCost(p.Start, p.End)*1e6+0.5)) / 1e6
		in.SavingsPlanCovered = savingsPlanCovered(in)
	}
	sort.SliceStable(p.lc, func(i, j int) bool {
		a, b := &p.lc[i], &p.lc[j]
		if a.acct != b.acct {
			return a.acct < b.acct
		}
		if a.region != b.region {
			return a.region < b.region
		}
		return a.at.Before(b.at)
	})
	if len(p.lc) > cfg.Events {
		return nil, fmt.Errorf("plan %d events: the EC2 story alone needs %d lifecycle events; raise --events", cfg.Events, len(p.lc))
	}
	return p, nil
}

func (p *Plan) addLC(r *rand.Rand, e lcEvent) {
	e.seed = r.Uint64()
	e.eventID = uuid(r)
	p.lc = append(p.lc, e)
}

func (p *Plan) planTemplates(r *rand.Rand) {
	for a := range p.Accounts {
		for reg, region := range p.Regions {
			for ti, c := range templateCatalogue {
				t := &Template{
					ID: awsID(r, "lt-"), Name: c.name, Account: p.Accounts[a].ID, Region: region,
					Approved: c.approved, InstanceType: c.typ, ImageID: p.nets[a][reg].amis[ti%4],
					acct: a, region: reg,
				}
				t.creator = p.Accounts[a].p.admin
				if ti%2 == 1 {
					t.creator = p.Accounts[a].p.ci
				}
				created := p.Start.Add(time.Duration(r.IntN(3600)) * time.Second)
				t.Versions = []time.Time{created}
				idx := int32(len(p.Templates))
				p.addLC(r, lcEvent{at: created, kind: lcCreateTemplate, acct: int16(a), region: int16(reg), ref: idx, version: 1, by: t.creator})
				extra := r.IntN(4)
				for v := 0; v < extra; v++ {
					at := p.Start.Add(time.Hour + time.Duration(r.Int64N(int64(p.End.Sub(p.Start)-2*time.Hour))))
					t.Versions = append(t.Versions, at)
				}
				sort.Slice(t.Versions, func(i, j int) bool { return t.Versions[i].Before(t.Versions[j]) })
				for v := 1; v < len(t.Versions); v++ {
					t.Versions[v] = t.Versions[v].Truncate(time.Second)
					p.addLC(r, lcEvent{at: t.Versions[v], kind: lcCreateTemplateVersion, acct: int16(a), region: int16(reg), ref: idx, version: int32(v + 1), by: t.creator})
				}
				p.Templates = append(p.Templates, t)
			}
		}
	}
}

// template returns the template named name in account a, region reg.
func (p *Plan) template(a, reg int, name string) *Template {
	for _, t := range p.Templates {
		if t.acct == a && t.region == reg && t.Name == name {
			return t
		}
	}
	return nil
}

// launchCount is how many launch calls a plan of n events holds: about one per 300 events, at
// least enough to show every launcher kind and outcome.
func launchCount(n int) int {
	l := n / 300
	if l < 40 {
		l = min(40, n/25)
	}
	return max(l, 1)
}

func (p *Plan) planLaunches(r *rand.Rand) {
	n := launchCount(p.Config.Events)
	kindWeights := []int{30, 14, 12, 8, 7, 7, 13, 9}
	failures := max(2, n/15)
	dryRuns := max(2, n/20)
	total := n + failures + dryRuns
	span := p.End.Sub(p.Start) - time.Hour - 15*time.Minute
	for i := 0; i < total; i++ {
		l := Launch{Outcome: OutcomeLaunched, Account: r.IntN(len(p.Accounts)), Region: weighted(r, regionWeights(len(p.Regions)))}
		l.At = p.Start.Add(time.Hour + time.Duration(r.Int64N(int64(span)))).Truncate(time.Second)
		switch {
		case i < len(Launchers):
			l.Kind = Launchers[i]
		case i < len(Launchers)+len(presets) && i < n:
			ps := presets[i-len(Launchers)]
			l.Kind, l.preset = ps.kind, &ps.p
		case i < n:
			l.Kind = Launchers[weighted(r, kindWeights)]
		case i < n+failures:
			if i%2 == 0 {
				l.Kind, l.Outcome = LauncherCLI, OutcomeUnauthorized
			} else {
				l.Kind, l.Outcome = pick(r, []Launcher{LauncherAutoScaling, LauncherCLI, LauncherSDK}), OutcomeNoCapacity
			}
		default:
			l.Kind, l.Outcome = pick(r, []Launcher{LauncherCLI, LauncherConsole, LauncherSDK}), OutcomeDryRun
		}
		p.planLaunch(r, &l)
		p.Launches = append(p.Launches, l)
	}
}

func regionWeights(n int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = 2
	}
	w[0] = 5
	return w
}

// planLaunch fills in a launch and its instances and lifecycle events.
func (p *Plan) planLaunch(r *rand.Rand, l *Launch) {
	acct := &p.Accounts[l.Account]
	ppl := &acct.p
	region := p.Regions[l.Region]
	useTemplate := func(name string, byName bool, versions ...string) {
		t := p.template(l.Account, l.Region, name)
		l.Template, l.ByName = t, byName
		latest := t.versionAt(l.At)
		v := pick(r, versions)
		switch v {
		case "$Latest":
			l.ResolvedVersion = latest
		case "$Default":
			l.ResolvedVersion = 1
		default:
			l.ResolvedVersion = 1 + r.IntN(latest)
			v = fmt.Sprint(l.ResolvedVersion)
		}
		l.RequestedVersion = v
	}
	l.Count = 1
	switch l.Kind {
	case LauncherAutoScaling:
		l.by = ppl.asg
		useTemplate(pick(r, []string{"web-server", "web-server", "batch-worker", "legacy-app"}), false, "n", "n", "$Latest", "$Default")
		l.GroupName = pick(r, []string{"web-asg", "api-asg", "worker-asg", "legacy-asg"}) + "-" + region
		if chance(r, 0.2) {
			l.Spot = true
			l.FleetID = "fleet-" + uuid(r)
		}
	case LauncherEKS:
		l.by = ppl.asg
		useTemplate("eks-node-al2023", false, "n")
		l.Cluster = pick(r, []string{"platform", "analytics"})
		l.GroupName = fmt.Sprintf("eks-%s-ng-%s", l.Cluster, uuid(r))
		l.FleetID = "fleet-" + uuid(r)
		l.Count = 1 + r.IntN(3)
		l.Spot = chance(r, 0.2)
	case LauncherEC2Fleet:
		l.by = ppl.karpenter
		useTemplate(pick(r, []string{"batch-worker", "batch-worker", "gpu-experiments"}), false, "n", "$Latest")
		l.FleetID = "fleet-" + uuid(r)
		l.Count = 1 + r.IntN(5)
		l.Spot = chance(r, 0.6)
	case LauncherSpotFleet:
		l.by = ppl.spotfleet
		useTemplate(pick(r, []string{"batch-worker", "legacy-app"}), false, "n", "$Latest")
		l.SpotFleetID = "sfr-" + uuid(r)
		l.Count = 1 + r.IntN(4)
		l.Spot = true
	case LauncherEMR:
		l.by = ppl.emr
		l.JobFlowID = "j-" + chars(r, upperAlnum, 13)
		l.Count = 1 + r.IntN(3)
		l.InstanceType = pick(r, []string{"m5.xlarge", "r5.large"})
	case LauncherConsole:
		l.by = pick(r, []*principal{ppl.admin, ppl.dev})
		if chance(r, 0.5) {
			useTemplate(pick(r, []string{"web-server", "dev-sandbox"}), true, "$Default", "$Latest")
		}
		if chance(r, 0.2) {
			l.Count = 2
		}
	case LauncherCLI:
		l.by = pick(r, []*principal{ppl.alice, ppl.bob, ppl.admin})
		switch x := r.IntN(100); {
		case x < 35:
			useTemplate(pick(r, []string{"dev-sandbox", "web-server", "legacy-app"}), true, "$Latest")
		case x < 60:
			useTemplate(pick(r, []string{"dev-sandbox", "batch-worker"}), false, "n")
		}
		if chance(r, 0.35) {
			l.Count = 2 + r.IntN(4)
		}
	case LauncherSDK:
		l.by = ppl.ci
		if chance(r, 0.6) {
			useTemplate(pick(r, []string{"web-server", "legacy-app", "batch-worker"}), false, "n", "$Default")
		}
		l.Count = 1 + r.IntN(3)
	}
	if ps := l.preset; ps != nil {
		l.Template, l.ByName, l.RequestedVersion, l.ResolvedVersion = nil, false, "", 0
		if ps.template != "" {
			useTemplate(ps.template, ps.byName, ps.version)
		}
		l.Count = ps.count
	}
	if l.Outcome == OutcomeUnauthorized {
		l.by = ppl.intern
	}
	if l.Template != nil {
		l.InstanceType = l.Template.InstanceType
	} else if l.InstanceType == "" {
		l.InstanceType = pick(r, instanceTypes).name
	}
	if l.Kind == LauncherEC2Fleet && chance(r, 0.5) {
		l.InstanceType = pick(r, []string{"c5.2xlarge", "m6i.2xlarge", "c6g.xlarge"})
	}
	l.AZ = region + string(rune('a'+r.IntN(3)))
	l.EventID = uuid(r)
	idx := int32(len(p.Launches))
	if l.Outcome != OutcomeLaunched {
		p.addLC(r, lcEvent{at: l.At, kind: lcRunInstances, acct: int16(l.Account), region: int16(l.Region), ref: idx, by: l.by})
		return
	}
	switch l.Kind {
	case LauncherEC2Fleet:
		p.addLC(r, lcEvent{at: l.At.Add(-2 * time.Second), kind: lcCreateFleet, acct: int16(l.Account), region: int16(l.Region), ref: idx, by: l.by})
	case LauncherSpotFleet:
		p.addLC(r, lcEvent{at: l.At.Add(-time.Duration(20+r.IntN(60)) * time.Second), kind: lcRequestSpotFleet, acct: int16(l.Account), region: int16(l.Region), ref: idx, by: ppl.alice})
	case LauncherEMR:
		p.addLC(r, lcEvent{at: l.At.Add(-time.Duration(60+r.IntN(120)) * time.Second), kind: lcRunJobFlow, acct: int16(l.Account), region: int16(l.Region), ref: idx, by: ppl.ci})
	}
	p.addLC(r, lcEvent{at: l.At, kind: lcRunInstances, acct: int16(l.Account), region: int16(l.Region), ref: idx, by: l.by})
	for k := 0; k < l.Count; k++ {
		in := Instance{
			ID: awsID(r, "i-"), Account: acct.ID, Region: region, AvailabilityZone: l.AZ,
			InstanceType: l.InstanceType, Spot: l.Spot, HourlyPrice: priceOf(l.InstanceType, region, l.Spot),
			LaunchTime: l.At, Launcher: l.Kind, PrincipalARN: l.by.arn, LaunchEventID: l.EventID,
			VolumeID: awsID(r, "vol-"), VolumeGB: pick(r, []int{8, 20, 30, 50, 100}), launch: int(idx),
		}
		if l.Kind == LauncherEC2Fleet {
			in.PrincipalARN = l.by.arn
		}
		if t := l.Template; t != nil {
			in.TemplateID, in.TemplateName, in.Approved = t.ID, t.Name, t.Approved
			in.TemplateVersion, in.RequestedVersion = fmt.Sprint(l.ResolvedVersion), l.RequestedVersion
		}
		p.planLifetime(r, l, &in, len(p.Instances))
		l.Instances = append(l.Instances, len(p.Instances))
		p.Instances = append(p.Instances, in)
	}
}

// planLifetime decides how long an instance lives, how it ends and whether it is stopped for a
// while, and adds the matching lifecycle events.
func (p *Plan) planLifetime(r *rand.Rand, l *Launch, in *Instance, idx int) {
	ppl := &p.Accounts[l.Account].p
	var life time.Duration
	var reason string
	var by *principal
	switch l.Kind {
	case LauncherAutoScaling:
		life, reason, by = logUniform(r, 30*time.Minute, 72*time.Hour), ReasonScaleIn, ppl.asg
	case LauncherEKS:
		life, reason, by = logUniform(r, time.Hour, 120*time.Hour), ReasonScaleIn, ppl.asg
	case LauncherEC2Fleet:
		life, reason, by = logUniform(r, 5*time.Minute, 12*time.Hour), ReasonUser, ppl.karpenter
	case LauncherSpotFleet:
		life, reason, by = logUniform(r, 20*time.Minute, 24*time.Hour), ReasonService, ppl.spotfleet
	case LauncherEMR:
		life, reason, by = logUniform(r, 20*time.Minute, 8*time.Hour), ReasonService, ppl.emr
	default:
		life, reason, by = logUniform(r, 10*time.Minute, 240*time.Hour), ReasonUser, l.by
	}
	if in.Spot && chance(r, 0.3) {
		reason, by = ReasonSpotInterruption, nil
	}
	end := in.LaunchTime.Add(life)
	a, reg := int16(l.Account), int16(l.Region)
	if !in.Spot && (l.Kind == LauncherConsole || l.Kind == LauncherCLI || l.Kind == LauncherSDK) && life > 4*time.Hour && chance(r, 0.3) {
		stop := in.LaunchTime.Add(time.Duration(float64(life) * (0.1 + 0.3*r.Float64()))).Truncate(time.Second)
		start := stop.Add(time.Duration(float64(life) * (0.1 + 0.2*r.Float64()))).Truncate(time.Second)
		if start.Before(p.End) {
			in.Stopped = append(in.Stopped, Interval{From: stop, To: start})
			p.addLC(r, lcEvent{at: stop, kind: lcStop, acct: a, region: reg, ref: int32(idx), by: l.by})
			p.addLC(r, lcEvent{at: start, kind: lcStart, acct: a, region: reg, ref: int32(idx), by: l.by})
		} else if stop.Before(p.End) {
			in.Stopped = append(in.Stopped, Interval{From: stop, To: p.End})
			p.addLC(r, lcEvent{at: stop, kind: lcStop, acct: a, region: reg, ref: int32(idx), by: l.by})
		}
	}
	if !end.Before(p.End) {
		return
	}
	in.TerminationTime, in.TerminationReason = end, reason
	if len(in.Stopped) > 0 && in.Stopped[0].To.After(end) {
		in.Stopped[0].To = end
	}
	kind := lcTerminate
	if reason == ReasonSpotInterruption {
		kind = lcBidEvicted
	}
	p.addLC(r, lcEvent{at: end, kind: kind, acct: a, region: reg, ref: int32(idx), by: by})
}
