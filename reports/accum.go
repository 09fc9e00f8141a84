package reports

import (
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

// tagAcc accumulates one tag's statistics in O(1) memory (plus its chart
// buckets and excursion records).
type tagAcc struct {
	stats    TagStats
	mean, m2 float64
	used     int64 // good finite readings in mean, min, max
	min, max float64
	total    float64 // counter increments
	last     time.Time
	spacing  spacingHist
	counter  *detect.Counter

	cpk    *detect.CpkMonitor
	limits *detect.Limits
	mkt    *detect.RollingMKT
	tor    *detect.TOR
	cold   *ColdChain
	chart  *chartAcc
	spc    []*spcAcc
	buf    []analytics.Finding
}

func newTagAcc(machine, tag, unit string, ref *config.TagRef, poll time.Duration, start time.Time) *tagAcc {
	a := &tagAcc{min: math.Inf(1), max: math.Inf(-1), last: start}
	a.stats = TagStats{Machine: machine, Tag: tag, Unit: unit, Gaps: []Gap{}, LSL: nan(), USL: nan(), Decimals: display.DefaultDecimals}
	a.stats.PollInterval = poll
	if ref == nil {
		return a
	}
	t := ref.Tag
	a.stats.Role, a.stats.Critical = t.Role, t.Critical
	if t.Decimals != nil {
		a.stats.Decimals = *t.Decimals
	}
	if isCounterRole(t.Role) {
		a.stats.Counter = true
		a.counter = &detect.Counter{}
	}
	if t.Unit != "" {
		a.stats.Unit = t.Unit
	}
	if t.Spec.LSL != nil || t.Spec.USL != nil {
		if c, err := detect.NewCpkMonitor(detect.CpkParams{LSL: t.Spec.LSL, USL: t.Spec.USL}); err == nil {
			a.cpk = c
		}
		if t.Spec.LSL != nil {
			a.stats.LSL = Num(*t.Spec.LSL)
		}
		if t.Spec.USL != nil {
			a.stats.USL = Num(*t.Spec.USL)
		}
	}
	l := t.Limits
	if l.Lo != nil || l.Hi != nil || l.LoLo != nil || l.HiHi != nil {
		if d, err := detect.NewLimits(detect.LimitsParams{Lo: l.Lo, Hi: l.Hi, LoLo: l.LoLo, HiHi: l.HiHi}); err == nil {
			a.limits = d
		}
	}
	return a
}

func nan() Num { return Num(math.NaN()) }

// isCounterRole: tags whose readings are running counts, reported as a
// total and a rate rather than a mean and a standard deviation.
func isCounterRole(role string) bool { return role == "good_count" || role == "reject_count" }

// add feeds one sample (already stamped with the report's batch id).
func (a *tagAcc) add(s sample.Sample) {
	a.stats.Count++
	if s.Time.After(a.last) || (a.stats.Count == 1 && !s.Time.Before(a.last)) {
		a.spacing.add(a.last, s.Time)
		a.last = s.Time
	}
	if !s.Good() {
		return
	}
	a.stats.Good++
	if s.Text != "" || math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return
	}
	x := s.Value
	if a.counter != nil {
		if d, ok := a.counter.Delta(x); ok {
			a.total += d
		}
	}
	a.used++
	d := x - a.mean
	a.mean += d / float64(a.used)
	a.m2 += d * (x - a.mean)
	a.min, a.max = math.Min(a.min, x), math.Max(a.max, x)
	a.buf = a.buf[:0]
	if a.cpk != nil {
		a.buf = a.cpk.Update(s, a.buf)
	}
	if a.limits != nil {
		a.buf = a.limits.Update(s, a.buf)
	}
	if a.mkt != nil {
		a.buf = a.mkt.Update(s, a.buf)
	}
	if a.tor != nil {
		a.buf = a.tor.Update(s, a.buf)
	}
	if a.chart != nil {
		a.chart.add(s.Time, x)
	}
	for _, c := range a.spc {
		c.add(s)
	}
}

// chartAcc keeps min/max/mean per time bucket: a bounded trend of any
// number of samples.
type chartAcc struct {
	start    time.Time
	width    time.Duration
	min, max []float64
	sum      []float64
	n        []int32
}

func newChartAcc(start, end time.Time, buckets int) *chartAcc {
	span := end.Sub(start)
	w := span / time.Duration(buckets)
	if w <= 0 {
		w = time.Second
	}
	c := &chartAcc{start: start, width: w, min: make([]float64, buckets), max: make([]float64, buckets), sum: make([]float64, buckets), n: make([]int32, buckets)}
	return c
}

func (c *chartAcc) add(t time.Time, x float64) {
	i := int(t.Sub(c.start) / c.width)
	if i < 0 {
		return
	}
	if i >= len(c.n) {
		i = len(c.n) - 1
	}
	if c.n[i] == 0 || x < c.min[i] {
		c.min[i] = x
	}
	if c.n[i] == 0 || x > c.max[i] {
		c.max[i] = x
	}
	c.sum[i] += x
	c.n[i]++
}

func (c *chartAcc) points() []ChartPoint {
	out := make([]ChartPoint, 0, len(c.n))
	for i, n := range c.n {
		if n == 0 {
			continue
		}
		out = append(out, ChartPoint{Time: c.start.Add(time.Duration(i) * c.width).UTC(), Min: Num(c.min[i]), Max: Num(c.max[i]), Mean: Num(c.sum[i] / float64(n))})
	}
	return out
}

// rejectAcc builds the reject statistics and p-chart of one machine from
// its good and reject counters.
type rejectAcc struct {
	stats        RejectStats
	good, reject detect.Counter
	g, r         float64 // batch totals
	sg           time.Duration
	sgStart      time.Time
	sgG, sgR     float64
	sgOpen       bool
	pts          []PPoint
	yieldMin     float64 // fraction, 0: none
	pbar         float64 // configured, 0: batch mean
	laney        bool
	id           sample.Sample
}

func (r *rejectAcc) add(s sample.Sample) {
	if s.Time.Sub(r.sgStart) >= r.sg && r.sgOpen {
		r.closeSubgroup()
	}
	if !r.sgOpen {
		r.sgOpen, r.sgStart, r.sgG, r.sgR = true, s.Time.Truncate(r.sg), 0, 0
	}
	switch s.Tag {
	case r.stats.GoodTag:
		if d, ok := r.good.Delta(s.Value); ok {
			r.g += d
			r.sgG += d
		}
	case r.stats.RejectTag:
		if d, ok := r.reject.Delta(s.Value); ok {
			r.r += d
			r.sgR += d
		}
	}
	r.id = s
}

func (r *rejectAcc) closeSubgroup() {
	r.sgOpen = false
	if n := r.sgG + r.sgR; n > 0 {
		r.pts = append(r.pts, PPoint{Time: r.sgStart.UTC(), P: Num(r.sgR / n), N: Num(n)})
	}
}

func (r *rejectAcc) finish(batch string) RejectStats {
	if r.sgOpen {
		r.closeSubgroup()
	}
	st := r.stats
	st.Good, st.Rejects = Num(r.g), Num(r.r)
	st.RejectFraction, st.YieldPct, st.YieldMinPct, st.PBar = nan(), nan(), nan(), nan()
	st.YieldOK = true
	if r.yieldMin > 0 {
		st.YieldMinPct = Num(100 * r.yieldMin)
	}
	if r.g+r.r > 0 {
		st.RejectFraction = Num(r.r / (r.g + r.r))
		id := r.id
		id.Batch, id.Tag = batch, st.GoodTag
		rec, fs, err := detect.Reconcile(detect.BatchCounts{Theoretical: r.g + r.r, Good: r.g, Rejects: r.r},
			detect.YieldParams{YieldMin: 100 * r.yieldMin}, id)
		if err == nil {
			st.YieldPct = Num(rec.Yield)
			st.YieldOK = len(fs) == 0
		}
	}
	pbar := r.pbar
	if pbar == 0 && r.g+r.r > 0 {
		pbar = r.r / (r.g + r.r)
	}
	st.PBar = Num(pbar)
	sigmaZ := 1.0
	if r.laney && len(r.pts) > 1 && pbar > 0 && pbar < 1 {
		ps, ns := make([]float64, len(r.pts)), make([]float64, len(r.pts))
		for i, p := range r.pts {
			ps[i], ns[i] = float64(p.P), float64(p.N)
		}
		if z := detect.LaneySigmaZ(ps, ns, pbar); z > 0 {
			sigmaZ = z
		}
	}
	st.Points = make([]PPoint, len(r.pts))
	for i, p := range r.pts {
		p.UCL, p.LCL = nan(), nan()
		if pbar > 0 && pbar < 1 {
			lcl, ucl := detect.PLimits(pbar, float64(p.N), sigmaZ)
			p.UCL, p.LCL = Num(ucl), Num(lcl)
			if p.P > p.UCL || p.P < p.LCL {
				st.OutOfControl++
			}
		}
		st.Points[i] = p
	}
	return st
}
