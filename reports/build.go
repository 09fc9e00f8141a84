package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/buildinfo"
	"github.com/linewatch/linewatch/sample"
)

// AnalyticsNote is printed in every report: how its analytics were computed.
const AnalyticsNote = "Analytics recomputed from InfluxDB with the same detector code as the live engine " +
	"(linewatch analytics/engine and analytics/detect), fed the batch's samples in time order. " +
	"Detectors start fresh at the batch start (baselines estimated from data are learned from this batch). " +
	"Statistics and analytics use good-quality readings only; bad and uncertain readings are counted in the bad-quality share."

// maxSignals bounds the signal list; the rest are counted.
const maxSignals = 2000

// Sources are where a report's data comes from. Alarms and Audit may be
// nil (the report then says none were read).
type Sources struct {
	Samples SampleSource
	Alarms  AlarmSource
	Audit   AuditSource
}

// Options tune Build.
type Options struct {
	// GeneratedBy is the person or service generating the report.
	GeneratedBy string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Progress is called with the fraction of the batch's time range read
	// so far (0…1).
	Progress func(frac float64)
	// ChartBuckets is the number of min/max buckets of a trend (default 400).
	ChartBuckets int
	Logger       *slog.Logger
}

// ConfigDigest returns the SHA-256 (hex) of the config in force: the
// bytes it was parsed from, hashed at load time (config.Config.Digest).
// The file is not read again: it may have been edited since (the report
// must name what the running process uses) or never exist (the demo's
// built-in config).
func ConfigDigest(cfg *config.Config) (string, error) {
	if cfg.Digest == "" {
		return "", errors.New("config digest unknown: the config was not loaded with config.Load or config.Parse")
	}
	return cfg.Digest, nil
}

// Build computes the report of batch b from src.
func Build(ctx context.Context, cfg *config.Config, b BatchRecord, src Sources, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ChartBuckets <= 0 {
		o.ChartBuckets = 400
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.GeneratedBy == "" {
		return nil, errors.New("report: the person generating it is required (GeneratedBy)")
	}
	end := b.End
	if end.IsZero() {
		return nil, fmt.Errorf("batch %s on line %s has not ended (no end event): report it once it has ended", b.ID, b.Line)
	}
	cfgSum, err := ConfigDigest(cfg)
	if err != nil {
		return nil, err
	}
	r := &Report{
		V: SchemaVersion,
		Header: Header{
			Site: cfg.Site, Line: b.Line, Product: jsonText(b.Product), Batch: jsonText(b.ID), Start: b.Start.UTC(), End: end.UTC(),
			GeneratedBy: o.GeneratedBy, Version: buildinfo.String(), ConfigFile: cfg.File, ConfigSHA256: cfgSum,
			AnalyticsNote: AnalyticsNote,
		},
		Tags: []TagStats{}, Excursions: []Excursion{}, ColdChain: []ColdChain{}, Signals: []Signal{},
		Rejects: []RejectStats{}, Alarms: []AlarmRecord{}, Audit: []audit.Entry{}, Charts: []Chart{},
	}
	if l := cfg.Line(b.Line); l != nil {
		r.Header.LineName = l.Name
	}
	p, err := newPipeline(cfg, b, o)
	if err != nil {
		return nil, err
	}
	if err := p.run(ctx, src.Samples); err != nil {
		return nil, err
	}
	p.fill(r)
	if src.Alarms != nil {
		ts, err := src.Alarms.Transitions(ctx, cfg.Site, b.Line, b.Start)
		if err != nil {
			return nil, fmt.Errorf("alarms of batch %s: %w", b.ID, err)
		}
		r.Alarms = alarmRecords(ts, b.Start, end)
	}
	if src.Audit != nil {
		es, err := src.Audit.Range(ctx, b.Start, end.Add(time.Nanosecond))
		if err != nil {
			return nil, fmt.Errorf("audit trail of batch %s: %w", b.ID, err)
		}
		if es != nil {
			r.Audit = es
		}
	}
	r.Header.GeneratedAt = o.Now().UTC()
	return r, nil
}

// pipeline is the streaming computation of one report.
type pipeline struct {
	cfg     *config.Config
	b       BatchRecord
	o       Options
	eng     *engine.Engine
	tags    map[tagKey]*tagAcc
	order   []tagKey
	rejects map[string]*rejectAcc // machine
	polls   map[string]time.Duration
	signals []Signal
	open    map[string]int // finding key → index in signals
	omitted int
	read    int64
}

func newPipeline(cfg *config.Config, b BatchRecord, o Options) (*pipeline, error) {
	eng, err := engine.New(cfg, engine.Options{StatsEvery: -1, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("analytics engine for the report: %w", err)
	}
	p := &pipeline{cfg: cfg, b: b, o: o, eng: eng, tags: map[tagKey]*tagAcc{}, rejects: map[string]*rejectAcc{},
		polls: pollIntervals(cfg, b.Line), open: map[string]int{}}
	span := b.End.Sub(b.Start)
	for _, rule := range cfg.Analytics.Rules {
		if rule.PChart == nil && rule.Yield == nil {
			continue
		}
		for _, pat := range rule.Tags {
			for _, t := range cfg.MatchTags(pat) {
				if t.Line.ID != b.Line || p.rejects[t.Machine.ID] != nil {
					continue
				}
				ra := &rejectAcc{}
				ra.stats.Machine = t.Machine.ID
				var sg time.Duration
				if pc := rule.PChart; pc != nil {
					ra.stats.GoodTag, ra.stats.RejectTag = pc.GoodTag, pc.RejectTag
					ra.pbar, ra.laney, sg = pc.PBar, pc.Laney, pc.SubgroupSpan
				}
				if y := rule.Yield; y != nil {
					ra.stats.GoodTag, ra.stats.RejectTag, ra.yieldMin = y.GoodTag, y.RejectTag, y.Min
				}
				// At most ~500 chart subgroups, so a 1 s subgroup on a long
				// batch still gives a readable, bounded chart.
				if minSG := span / 500; sg < minSG {
					sg = minSG
				}
				if sg <= 0 {
					sg = time.Minute
				}
				ra.sg = sg
				ra.stats.Subgroup = sg.String()
				p.rejects[t.Machine.ID] = ra
			}
		}
	}
	return p, nil
}

// pollIntervals maps machine/tag of the line to its poll (or
// subscription sampling) interval.
func pollIntervals(cfg *config.Config, line string) map[string]time.Duration {
	out := map[string]time.Duration{}
	l := cfg.Line(line)
	if l == nil {
		return out
	}
	for _, m := range l.Machines {
		for _, g := range m.PollGroups {
			for _, t := range g.Tags {
				out[m.ID+"/"+t] = g.Interval
			}
		}
		for _, s := range m.Subscriptions {
			iv := s.SamplingInterval
			if iv <= 0 {
				iv = s.PublishingInterval
			}
			for _, t := range s.Tags {
				out[m.ID+"/"+t] = iv
			}
		}
	}
	return out
}

// tagKey is machine and tag: a map key that needs no string built per sample.
type tagKey struct{ machine, tag string }

func (p *pipeline) tag(s sample.Sample) *tagAcc {
	k := tagKey{s.Machine, s.Tag}
	if a := p.tags[k]; a != nil {
		return a
	}
	var ref *config.TagRef
	if t, ok := p.cfg.Tag(s.Line, s.Machine, s.Tag); ok {
		ref = &t
	}
	a := newTagAcc(s.Machine, s.Tag, s.Unit, ref, p.polls[s.Machine+"/"+s.Tag], p.b.Start)
	if ref != nil {
		p.attachColdChain(a, *ref)
		if ref.Tag.Critical || a.cold != nil {
			a.chart = newChartAcc(p.b.Start, p.b.End, p.o.ChartBuckets)
		}
	}
	p.tags[k] = a
	p.order = append(p.order, k)
	return a
}

// attachColdChain adds batch MKT and TOR to a temperature tag selected by
// a rule with mkt or tor.
func (p *pipeline) attachColdChain(a *tagAcc, t config.TagRef) {
	if t.Tag.Role != "temperature" {
		return
	}
	for _, rule := range p.cfg.Analytics.Rules {
		if rule.MKT == nil && rule.TOR == nil {
			continue
		}
		if !ruleSelects(p.cfg, rule, t) {
			continue
		}
		if a.cold == nil {
			a.cold = &ColdChain{Machine: t.Machine.ID, Tag: t.Tag.Name, MKT: nan(), MKTLimit: nan(), Activation: nan(), TORLow: nan(), TORHigh: nan()}
		}
		if m := rule.MKT; m != nil && a.mkt == nil {
			// MKT of the whole batch: the rolling detector with a window
			// longer than the batch holds every reading of it.
			win := 2*p.b.End.Sub(p.b.Start) + time.Hour
			act := m.Activation
			if act == 0 {
				act = 10000
			}
			d, err := newRollingMKT(win, m.Limit, act)
			if err == nil {
				a.mkt = d
				a.cold.HasMKT, a.cold.MKTLimit, a.cold.Activation = true, Num(m.Limit), Num(act)
			}
		}
		if tr := rule.TOR; tr != nil && a.tor == nil {
			d, err := newTOR(tr)
			if err == nil {
				a.tor = d
				a.cold.HasTOR, a.cold.TORBudget, a.cold.TORLow, a.cold.TORHigh = true, tr.Budget, Num(tr.Low), Num(tr.High)
			}
		}
	}
}

func ruleSelects(cfg *config.Config, rule config.Rule, t config.TagRef) bool {
	for _, pat := range rule.Tags {
		for _, m := range cfg.MatchTags(pat) {
			if m.String() == t.String() {
				return true
			}
		}
	}
	return false
}

func (p *pipeline) run(ctx context.Context, src SampleSource) error {
	q := SampleQuery{Site: p.cfg.Site, Line: p.b.Line, From: p.b.Start, To: p.b.End}
	span := float64(p.b.End.Sub(p.b.Start))
	var findings []analytics.Finding
	for s, err := range src.Samples(ctx, q) {
		if err != nil {
			return fmt.Errorf("samples of batch %s: %w", p.b.ID, err)
		}
		p.read++
		if p.read&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if p.o.Progress != nil && span > 0 {
				p.o.Progress(float64(s.Time.Sub(p.b.Start)) / span)
			}
		}
		s.Site, s.Batch = p.cfg.Site, p.b.ID
		p.tag(s).add(s)
		if ra := p.rejects[s.Machine]; ra != nil && (s.Tag == ra.stats.GoodTag || s.Tag == ra.stats.RejectTag) && s.Good() {
			ra.add(s)
		}
		findings = p.eng.Process(s, findings[:0])
		for _, f := range findings {
			p.signal(f)
		}
	}
	if p.o.Progress != nil {
		p.o.Progress(1)
	}
	return nil
}

func (p *pipeline) signal(f analytics.Finding) {
	k := f.Key()
	if !f.Active {
		if i, ok := p.open[k]; ok {
			p.signals[i].End = f.Time.UTC()
			delete(p.open, k)
		}
		return
	}
	if len(p.signals) >= maxSignals {
		p.omitted++
		return
	}
	p.open[k] = len(p.signals)
	p.signals = append(p.signals, Signal{Time: f.Time.UTC(), Machine: f.Machine, Tag: f.Tag, Detector: f.Detector, Rule: f.Rule,
		Value: Num(f.Value), Limit: Num(f.Limit), Severity: f.Severity.String(), Message: f.Message})
}

// fill writes the accumulated results into r.
func (p *pipeline) fill(r *Report) {
	sort.Slice(p.order, func(i, j int) bool {
		if p.order[i].machine != p.order[j].machine {
			return p.order[i].machine < p.order[j].machine
		}
		return p.order[i].tag < p.order[j].tag
	})
	r.Header.SamplesRead = p.read
	for _, k := range p.order {
		a := p.tags[k]
		r.Tags = append(r.Tags, a.finish(p.b.End))
		if a.limits != nil {
			for _, e := range a.limits.Excursions() {
				x := Excursion{Machine: a.stats.Machine, Tag: a.stats.Tag, Rule: e.Rule, Limit: Num(e.Limit), Start: e.Start.UTC(),
					End: e.End.UTC(), Duration: e.Duration, Peak: Num(e.Peak), DegreeMinutes: Num(e.DegreeMinutes), Open: e.Open()}
				if e.Open() {
					x.End = time.Time{}
				}
				r.Excursions = append(r.Excursions, x)
			}
		}
		if c := a.cold; c != nil {
			cc := *c
			if a.mkt != nil {
				cc.MKT = Num(a.mkt.Value())
				cc.MKTOK = cc.MKT.Defined() && cc.MKT <= cc.MKTLimit
			}
			if a.tor != nil {
				cc.TORUsed = a.tor.Used()
				cc.TOROK = cc.TORUsed < cc.TORBudget
			}
			cc.Description = coldChainText(cc)
			r.ColdChain = append(r.ColdChain, cc)
		}
		if a.chart != nil {
			ch := Chart{Machine: a.stats.Machine, Tag: a.stats.Tag, Unit: a.stats.Unit, Limits: []Limit{}, Points: a.chart.points()}
			if t, ok := p.cfg.Tag(p.b.Line, a.stats.Machine, a.stats.Tag); ok {
				ch.Limits = chartLimits(t.Tag)
			}
			r.Charts = append(r.Charts, ch)
		}
	}
	sort.SliceStable(r.Excursions, func(i, j int) bool { return r.Excursions[i].Start.Before(r.Excursions[j].Start) })
	r.Signals = p.signals
	if r.Signals == nil {
		r.Signals = []Signal{}
	}
	r.SignalsLeft = p.omitted
	machines := make([]string, 0, len(p.rejects))
	for m := range p.rejects {
		machines = append(machines, m)
	}
	sort.Strings(machines)
	for _, m := range machines {
		r.Rejects = append(r.Rejects, p.rejects[m].finish(p.b.ID))
	}
}

func chartLimits(t *config.Tag) []Limit {
	out := []Limit{}
	for _, l := range t.NamedLimits() {
		out = append(out, Limit{Name: l.Name, Value: Num(l.Value)})
	}
	return out
}

func coldChainText(c ColdChain) string {
	s := ""
	if c.HasMKT {
		verdict := "within"
		if !c.MKTOK {
			verdict = "ABOVE"
		}
		s = fmt.Sprintf("MKT %s °C over the batch (ΔH/R %g K) %s label limit %g °C", fmtNum(c.MKT, 2), float64(c.Activation), verdict, float64(c.MKTLimit))
	}
	if c.HasTOR {
		if s != "" {
			s += "; "
		}
		verdict := "within"
		if !c.TOROK {
			verdict = "BUDGET USED UP"
		}
		s += fmt.Sprintf("time out of %g–%g °C %v of %v budget (%s)", float64(c.TORLow), float64(c.TORHigh), c.TORUsed, c.TORBudget, verdict)
	}
	return s
}

// jsonText is outside text as the report holds it: itself when UTF-8, else
// percent-encoded (sample.Escape), since the canonical JSON is Unicode and
// would otherwise replace the bytes (and no longer verify).
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return sample.Escape(s)
}
