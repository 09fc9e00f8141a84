package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

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
	golden  goldenAcc
	// only, when set, restricts the report to these tags (a storage
	// location's probes); storage runs no detectors but the per-tag ones.
	only    map[tagKey]bool
	storage bool
}

func newPipeline(cfg *config.Config, b BatchRecord, o Options) (*pipeline, error) {
	p := &pipeline{cfg: cfg, b: b, o: o, tags: map[tagKey]*tagAcc{}, rejects: map[string]*rejectAcc{},
		polls: pollIntervals(cfg, b.Line), open: map[string]int{}}
	// The samples begin at the batch start: golden-batch models judge the
	// first phase too, and their slices make the trajectory charts.
	eng, err := engine.New(cfg, engine.Options{StatsEvery: -1, Logger: o.Logger, FromBatchStart: true, BatchSlice: p.golden.slice})
	if err != nil {
		return nil, fmt.Errorf("analytics engine for the report: %w", err)
	}
	p.eng = eng
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
		if !p.storage {
			p.attachSPC(a, *ref)
		}
	}
	p.tags[k] = a
	p.order = append(p.order, k)
	return a
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
		if p.only != nil && !p.only[tagKey{s.Machine, s.Tag}] {
			continue
		}
		p.tag(s).add(s)
		if p.storage {
			continue
		}
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
		r.Tags = append(r.Tags, a.finish(p.b.Start, p.b.End))
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
				cc.MKTOK = cc.MKT.Defined() && (!cc.MKTLimit.Defined() || cc.MKT <= cc.MKTLimit)
			}
			if a.tor != nil {
				cc.TORUsed = a.tor.Used()
				cc.TOROK = cc.TORUsed < cc.TORBudget
			}
			cc.Description = coldChainText(cc, func(v float64) string { return display.Number(v, a.stats.Decimals, a.stats.Unit) })
			r.ColdChain = append(r.ColdChain, cc)
		}
		if a.chart != nil {
			ch := Chart{Machine: a.stats.Machine, Tag: a.stats.Tag, Unit: a.stats.Unit, Decimals: a.stats.Decimals, Limits: []Limit{}, Points: a.chart.points()}
			if t, ok := p.cfg.Tag(p.b.Line, a.stats.Machine, a.stats.Tag); ok {
				ch.Limits = chartLimits(t.Tag)
			}
			r.Charts = append(r.Charts, ch)
		}
	}
	sort.SliceStable(r.Excursions, func(i, j int) bool { return r.Excursions[i].Start.Before(r.Excursions[j].Start) })
	r.SPCCharts = []SPCChart{}
	for _, k := range p.order {
		a := p.tags[k]
		for _, sc := range a.spc {
			if p.signalled(a.stats.Machine, a.stats.Tag, sc.detector) {
				r.SPCCharts = append(r.SPCCharts, sc.chart(a.stats))
			}
		}
	}
	r.Signals = p.signals
	if r.Signals == nil {
		r.Signals = []Signal{}
	}
	r.SignalsLeft = p.omitted
	for _, c := range p.golden.charts {
		if t, ok := p.cfg.Tag(p.b.Line, c.Machine, c.Tag); ok {
			c.Unit = t.Tag.Unit
		}
		r.GoldenBatch = append(r.GoldenBatch, c)
	}
	machines := make([]string, 0, len(p.rejects))
	for m := range p.rejects {
		machines = append(machines, m)
	}
	sort.Strings(machines)
	for _, m := range machines {
		r.Rejects = append(r.Rejects, p.rejects[m].finish(p.b.ID))
	}
}
