package reports

import (
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// spcAcc follows one EWMA or CUSUM chart of a tag alongside the engine
// (same parameters, same readings) and keeps its statistic per chart
// bucket, so the report can draw the chart that signalled.
type spcAcc struct {
	detector string
	det      detect.Detector
	series   []string
	start    time.Time
	width    time.Duration
	vals     [][]float64 // per bucket, per series; nil: no point
	buf      []analytics.Finding
	stats    []detect.Stat
}

var spcSeries = map[string][]string{
	detect.NameEWMA:  {"ewma", "ucl", "lcl", "cl"},
	detect.NameCUSUM: {"cusum_hi", "cusum_lo", "cusum_h"},
}

// attachSPC adds the EWMA and CUSUM charts of the rules that select t.
func (p *pipeline) attachSPC(a *tagAcc, t config.TagRef) {
	for _, rule := range p.cfg.Analytics.Rules {
		if rule.EWMA == nil && rule.CUSUM == nil {
			continue
		}
		if !ruleSelects(p.cfg, rule, t) {
			continue
		}
		add := func(name string, d detect.Detector, err error) {
			if err != nil {
				return
			}
			for _, x := range a.spc {
				if x.detector == name {
					return
				}
			}
			c := newChartAcc(p.b.Start, p.b.End, p.o.ChartBuckets)
			a.spc = append(a.spc, &spcAcc{detector: name, det: d, series: spcSeries[name], start: c.start, width: c.width, vals: make([][]float64, len(c.n))})
		}
		// Built as the engine builds them (the configured baseline
		// resolved, the tag's formats), so the chart is the live one.
		if rule.EWMA != nil {
			d, err := rule.EWMA.Build(p.cfg.Target(t))
			add(detect.NameEWMA, d, err)
		}
		if rule.CUSUM != nil {
			d, err := rule.CUSUM.Build(p.cfg.Target(t))
			add(detect.NameCUSUM, d, err)
		}
	}
}

func (c *spcAcc) add(s sample.Sample) {
	c.buf = c.det.Update(s, c.buf[:0])
	i := int(s.Time.Sub(c.start) / c.width)
	if i < 0 {
		return
	}
	i = min(i, len(c.vals)-1)
	c.stats = c.det.AppendStats(c.stats[:0])
	if len(c.stats) == 0 {
		return // baseline not ready
	}
	row := c.vals[i]
	if row == nil {
		row = make([]float64, len(c.series))
		c.vals[i] = row
	}
	for j, name := range c.series {
		row[j] = math.NaN()
		for _, st := range c.stats {
			if st.Name == name {
				row[j] = st.Value
			}
		}
	}
}

func (c *spcAcc) chart(t TagStats) SPCChart {
	out := SPCChart{Machine: t.Machine, Tag: t.Tag, Unit: t.Unit, Decimals: t.Decimals, Detector: c.detector, Series: c.series, Points: []SPCPoint{}}
	for i, row := range c.vals {
		if row == nil {
			continue
		}
		v := make([]Num, len(row))
		for j, x := range row {
			v[j] = Num(x)
		}
		out.Points = append(out.Points, SPCPoint{Time: c.start.Add(time.Duration(i) * c.width).UTC(), V: v})
	}
	return out
}

// signalled reports whether detector signalled on machine/tag.
func (p *pipeline) signalled(machine, tag, detector string) bool {
	for _, s := range p.signals {
		if s.Machine == machine && s.Tag == tag && s.Detector == detector {
			return true
		}
	}
	return false
}
