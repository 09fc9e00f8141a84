package pca

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/display/text"
)

// DetectorName is the Detector field of every finding this package emits.
const DetectorName = "pca"

// Rules of the findings: one condition per statistic.
const (
	RuleT2  = "t2"
	RuleQ   = "q"
	RuleT2R = "t2r" // residual T², only for a model trained with Options.ResidualT2
)

// numStats is the number of statistics a detector can monitor: T², Q, T²_r.
const numStats = 3

// DetectorConfig places the findings and optionally overrides the model's
// filter. A multivariate finding's Tag is the model name.
type DetectorConfig struct {
	Site, Line, Machine string
	// Filter overrides Model.Filter; nil uses the model's filter, and a model
	// without one is monitored on the raw statistics with its raw limits.
	Filter *Filter
	// TopN is how many contributions go into Evidence (default 5).
	TopN     int
	Severity analytics.Severity // taken as given; the zero value is Info
}

// Detector turns a stream of aligned observation vectors (one value per
// model variable, in Model.Variables order) into T² and Q findings. It
// reports transitions only. Not safe for concurrent use.
type Detector struct {
	m         *Model
	sha       string // of m in file form; identifies the model in snapshots
	cfg       DetectorConfig
	lambda    float64
	persist   int
	limit     [numStats]float64
	st        [numStats]ruleState
	nstats    int // 2, or 3 with a residual T²
	nv        int
	hist      []float64 // ring of the last Lags+1 observations
	filled    int
	head      int
	aug       []float64
	last      time.Time
	lastRaw   [numStats]float64
	lastValue [numStats]float64
}

type ruleState struct {
	ewma        float64
	over, under int
	active      bool
}

// NewDetector builds a streaming detector around a clone of m.
func NewDetector(m *Model, cfg DetectorConfig) (*Detector, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	if cfg.TopN == 0 {
		cfg.TopN = 5
	}
	d := &Detector{m: m.Clone(), cfg: cfg, nv: len(m.Variables), persist: 1, nstats: 2,
		limit: [numStats]float64{m.T2Limit, m.QLimit, m.T2RLimit}}
	if m.ResidualComponents > 0 {
		d.nstats = 3
	}
	f := cfg.Filter
	if f == nil {
		f = m.Filter
	}
	if f != nil {
		if !(f.Lambda >= 0 && f.Lambda <= 1) || f.Persistence < 0 || !finitePositive(f.T2Limit) || !finitePositive(f.QLimit) {
			return nil, fmt.Errorf("pca: detector filter %+v: want 0 ≤ lambda ≤ 1, persistence ≥ 0, limits > 0", *f)
		}
		if err := m.checkT2RLimit("detector filter", f.T2RLimit); err != nil {
			return nil, err
		}
		d.lambda = f.Lambda
		d.persist = max(f.Persistence, 1)
		d.limit = [numStats]float64{f.T2Limit, f.QLimit, f.T2RLimit}
	}
	sha, err := checksum(d.m.toFile())
	if err != nil {
		return nil, err
	}
	d.sha = sha
	d.hist = make([]float64, d.m.Dim())
	d.aug = make([]float64, d.m.Dim())
	d.Reset()
	return d, nil
}

// Reset forgets the lag history, the EWMA state and any active condition
// and the time order (without emitting end findings), e.g. after a gap in
// the data or before replaying another run.
func (d *Detector) Reset() {
	d.filled, d.head = 0, 0
	d.last = time.Time{}
	mean := inControlMeans(d.m)
	for i := range d.st {
		d.st[i] = ruleState{ewma: mean[i]}
	}
}

// inControlMeans are the expected T², Q and T²_r under normal operation,
// used to start the EWMA without a warm-up transient.
func inControlMeans(m *Model) [numStats]float64 {
	var th1 float64
	for _, l := range m.Eigenvalues[m.Components:] {
		th1 += l
	}
	return [numStats]float64{float64(m.Components), th1, float64(m.ResidualComponents)}
}

// Limits returns the limits the detector compares its (filtered) statistics to.
func (d *Detector) Limits() (t2, q float64) { return d.limit[0], d.limit[1] }

// ResidualLimit is the limit of the (filtered) residual T², 0 when the
// model has none.
func (d *Detector) ResidualLimit() float64 { return d.limit[2] }

// Active reports whether the T² and Q conditions are currently active.
func (d *Detector) Active() (t2, q bool) { return d.st[0].active, d.st[1].active }

// ActiveResidual reports whether the residual T² condition is active
// (always false for a model without residual components).
func (d *Detector) ActiveResidual() bool { return d.st[2].active }

// Observe scores one observation taken at t. It returns the findings whose
// condition started or ended with this observation (usually none). A vector
// of the wrong length, a non-finite value or a time before the previous one
// is rejected with an error and leaves the state unchanged, except that a
// non-finite value resets the lag history of a dynamic model.
func (d *Detector) Observe(t time.Time, x []float64) ([]analytics.Finding, error) {
	if len(x) != d.nv {
		return nil, fmt.Errorf("pca: model %q expects %d values, got %d", d.m.Name, d.nv, len(x))
	}
	if !d.last.IsZero() && t.Before(d.last) {
		return nil, fmt.Errorf("pca: model %q: observation at %s is before the previous one at %s", d.m.Name,
			t.UTC().Format(time.RFC3339Nano), d.last.UTC().Format(time.RFC3339Nano))
	}
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.filled, d.head = 0, 0
			return nil, fmt.Errorf("pca: model %q: variable %q is %v; observation skipped", d.m.Name, d.m.Variables[j], v)
		}
	}
	d.last = t
	// Newest observation goes at ring slot head; aug is [x(t), x(t-1), …].
	copy(d.hist[d.head*d.nv:(d.head+1)*d.nv], x)
	lags := d.m.Lags
	if d.filled < lags+1 {
		d.filled++
	}
	for l := 0; l <= lags; l++ {
		slot := (d.head - l + lags + 1) % (lags + 1)
		copy(d.aug[l*d.nv:(l+1)*d.nv], d.hist[slot*d.nv:(slot+1)*d.nv])
	}
	d.head = (d.head + 1) % (lags + 1)
	if d.filled < lags+1 {
		return nil, nil
	}
	t2, q, t2r := d.m.ScoreAll(d.aug)
	d.lastRaw = [numStats]float64{t2, q, t2r}
	var out []analytics.Finding
	for i, raw := range d.lastRaw[:d.nstats] {
		s := &d.st[i]
		v := raw
		if d.lambda > 0 {
			s.ewma = d.lambda*raw + (1-d.lambda)*s.ewma
			v = s.ewma
		}
		d.lastValue[i] = v
		if v > d.limit[i] {
			s.over++
			s.under = 0
		} else {
			s.under++
			s.over = 0
		}
		switch {
		case !s.active && s.over >= d.persist:
			s.active = true
			out = append(out, d.finding(t, i, true))
		case s.active && s.under >= d.persist:
			s.active = false
			out = append(out, d.finding(t, i, false))
		}
	}
	return out, nil
}

// Statistics returns the raw and the filtered T² and Q of the last scored
// observation.
func (d *Detector) Statistics() (t2, q, filteredT2, filteredQ float64) {
	return d.lastRaw[0], d.lastRaw[1], d.lastValue[0], d.lastValue[1]
}

// ResidualStatistic returns the raw and the filtered T²_r of the last
// scored observation (0, 0 for a model without residual components).
func (d *Detector) ResidualStatistic() (t2r, filtered float64) {
	return d.lastRaw[2], d.lastValue[2]
}

func (d *Detector) finding(t time.Time, rule int, active bool) analytics.Finding {
	name, stat := "T²", RuleT2
	switch rule {
	case 1:
		name, stat = "Q", RuleQ
	case 2:
		name, stat = "residual T²", RuleT2R
	}
	f := analytics.Finding{
		Time: t.UTC(), Site: d.cfg.Site, Line: d.cfg.Line, Machine: d.cfg.Machine, Tag: d.m.Name,
		Detector: DetectorName, Rule: stat, Active: active,
		Value: d.lastRaw[rule], Statistic: d.lastValue[rule], Limit: d.limit[rule], Severity: d.cfg.Severity,
	}
	if active {
		var c []float64
		if rule == 2 {
			c = d.m.ResidualContributions(d.aug)
		} else if t2c, qc := d.m.Contributions(d.aug); rule == 0 {
			c = t2c
		} else {
			c = qc
		}
		f.Evidence = topContributions(d.m.Variables, c, d.cfg.TopN)
		f.Message = fmt.Sprintf("%s %s above limit %s (model %s); largest contributions: %s",
			name, ratio(f.Statistic), ratio(f.Limit), d.m.Name, describe(f.Evidence))
	} else {
		f.Message = fmt.Sprintf("%s %s back below limit %s (model %s)", name, ratio(f.Statistic), ratio(f.Limit), d.m.Name)
	}
	f.ID = analytics.MakeID(f)
	return f
}

// ratio writes T², Q and their limits (no unit) for messages, as the
// other detectors write a statistic without a unit (two decimals).
func ratio(x float64) string { return text.Number(x, 2, "") }

// topContributions keeps the n variables with the largest contributions
// (by value: a negative T² contribution never drives an alarm).
func topContributions(names []string, c []float64, n int) map[string]float64 {
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c[idx[a]] > c[idx[b]] })
	out := make(map[string]float64, n)
	for _, i := range idx[:min(n, len(idx))] {
		out[names[i]] = c[i]
	}
	return out
}

func describe(ev map[string]float64) string {
	type kv struct {
		k string
		v float64
	}
	list := make([]kv, 0, len(ev))
	for k, v := range ev {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(a, b int) bool { return list[a].v > list[b].v })
	s := ""
	for i, e := range list {
		if i > 0 {
			s += ", "
		}
		s += e.k + " " + strconv.FormatFloat(e.v, 'g', 3, 64)
	}
	return s
}
