package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// Capability is the process capability of a set of individual readings
// against specification limits (AIAG SPC manual; Montgomery 8.2):
//
//	Cp  = (USL − LSL) / 6σ,  Cpk = min(USL − μ, μ − LSL) / 3σ
//
// with σ the within sigma MR̄/d2 (Cp, Cpk, Cpu, Cpl) or the overall sample
// standard deviation (Pp, Ppk). With a one-sided specification (the other
// limit NaN or infinite) Cp and Pp are NaN and Cpk is the one-sided index.
type Capability struct {
	N            int     `json:"n"`
	Mean         float64 `json:"mean"`
	SigmaWithin  float64 `json:"sigma_within"`
	SigmaOverall float64 `json:"sigma_overall"`
	Cp           float64 `json:"cp"`
	Cpk          float64 `json:"cpk"`
	Cpu          float64 `json:"cpu"`
	Cpl          float64 `json:"cpl"`
	Pp           float64 `json:"pp"`
	Ppk          float64 `json:"ppk"`
}

// capAcc accumulates what Capability needs in O(1) memory (Welford).
type capAcc struct {
	N     int     `json:"n"`
	Mean  float64 `json:"mean"`
	M2    float64 `json:"m2"`
	SumMR float64 `json:"sum_mr"`
	Prev  float64 `json:"prev"`
}

func (a *capAcc) add(x float64) {
	if a.N > 0 {
		a.SumMR += math.Abs(x - a.Prev)
	}
	a.N++
	dx := x - a.Mean
	a.Mean += dx / float64(a.N)
	a.M2 += dx * (x - a.Mean)
	a.Prev = x
}

func (a *capAcc) result(lsl, usl float64) Capability {
	nan := math.NaN()
	c := Capability{N: a.N, Mean: a.Mean, SigmaWithin: nan, SigmaOverall: nan, Cp: nan, Cpk: nan, Cpu: nan, Cpl: nan, Pp: nan, Ppk: nan}
	if a.N == 0 {
		c.Mean = nan
	}
	if a.N < 2 {
		return c
	}
	c.SigmaWithin = a.SumMR / float64(a.N-1) / D2
	c.SigmaOverall = math.Sqrt(a.M2 / float64(a.N-1))
	hasL, hasU := finite(lsl), finite(usl)
	idx := func(sigma float64) (cp, cpk, cpu, cpl float64) {
		cp, cpu, cpl = nan, nan, nan
		if hasU {
			cpu = (usl - a.Mean) / (3 * sigma)
		}
		if hasL {
			cpl = (a.Mean - lsl) / (3 * sigma)
		}
		if hasL && hasU {
			cp = (usl - lsl) / (6 * sigma)
		}
		switch {
		case hasL && hasU:
			cpk = math.Min(cpu, cpl)
		case hasU:
			cpk = cpu
		case hasL:
			cpk = cpl
		default:
			cpk = nan
		}
		return
	}
	c.Cp, c.Cpk, c.Cpu, c.Cpl = idx(c.SigmaWithin)
	c.Pp, c.Ppk, _, _ = idx(c.SigmaOverall)
	return c
}

// CapabilityOf computes the capability of values (non-finite ones skipped).
func CapabilityOf(values []float64, lsl, usl float64) Capability {
	var a capAcc
	for _, x := range values {
		if finite(x) {
			a.add(x)
		}
	}
	return a.result(lsl, usl)
}

// Cpk is CapabilityOf(values, lsl, usl).Cpk (within sigma).
func Cpk(values []float64, lsl, usl float64) float64 { return CapabilityOf(values, lsl, usl).Cpk }

// CapabilityOfSamples computes the capability of the good samples.
func CapabilityOfSamples(samples []sample.Sample, lsl, usl float64) Capability {
	var a capAcc
	for _, s := range samples {
		if usable(s) {
			a.add(s.Value)
		}
	}
	return a.result(lsl, usl)
}

// CpkParams configures a [CpkMonitor].
type CpkParams struct {
	LSL *float64 `json:"lsl,omitempty" yaml:"-"`
	USL *float64 `json:"usl,omitempty" yaml:"-"`
	// MinCpk: a batch with a lower Cpk is reported (default 1.33).
	MinCpk float64 `json:"min_cpk,omitempty" yaml:"min_cpk"`
	// MinSamples: batches with fewer readings are not judged (default 30).
	MinSamples int `json:"min_samples,omitempty" yaml:"min_samples"`
}

func (p CpkParams) withDefaults() CpkParams {
	if p.MinCpk == 0 {
		p.MinCpk = 1.33
	}
	if p.MinSamples == 0 {
		p.MinSamples = 30
	}
	return p
}

// Validate reports every problem at once.
func (p CpkParams) Validate() error {
	var errs []error
	if p.LSL == nil && p.USL == nil {
		errs = append(errs, errors.New("cpk: set lsl and/or usl (specification limits)"))
	}
	if (p.LSL != nil && !finite(*p.LSL)) || (p.USL != nil && !finite(*p.USL)) || (p.LSL != nil && p.USL != nil && *p.LSL >= *p.USL) {
		errs = append(errs, errors.New("cpk: lsl must be below usl and both finite"))
	}
	if p.MinCpk < 0 || !finite(p.MinCpk) || p.MinSamples < 0 || p.MinSamples == 1 {
		errs = append(errs, fmt.Errorf("cpk: min_cpk = %g must be >= 0 and min_samples = %d >= 2", p.MinCpk, p.MinSamples))
	}
	return errors.Join(errs...)
}

type cpkState struct {
	Acc    capAcc    `json:"acc"`
	Have   bool      `json:"have,omitempty"`
	Batch  string    `json:"batch,omitempty"`
	LastT  time.Time `json:"last_t,omitzero"`
	Active bool      `json:"active,omitempty"`
}

// CpkMonitor computes the capability of each batch as it runs and judges it
// when the batch id changes (or on Flush).
type CpkMonitor struct {
	core[CpkParams, cpkState]
	lsl, usl float64
}

// NewCpkMonitor validates p and returns the detector.
func NewCpkMonitor(p CpkParams) (*CpkMonitor, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	d := &CpkMonitor{core: core[CpkParams, cpkState]{name: NameCpk, p: p}, lsl: math.NaN(), usl: math.NaN()}
	if p.LSL != nil {
		d.lsl = *p.LSL
	}
	if p.USL != nil {
		d.usl = *p.USL
	}
	return d, nil
}

// Update implements [Detector].
func (d *CpkMonitor) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) {
		return dst
	}
	st := &d.st
	if st.Have && s.Batch != st.Batch {
		end := s
		end.Batch, end.Time = st.Batch, st.LastT
		dst = d.Flush(end, dst)
	}
	st.Have, st.Batch, st.LastT = true, s.Batch, s.Time
	st.Acc.add(s.Value)
	return dst
}

// Flush judges the current batch now (batch end) and starts a new one;
// s gives the identity and time of the findings.
func (d *CpkMonitor) Flush(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	st := &d.st
	acc := st.Acc
	st.Acc, st.Have = capAcc{}, false
	if acc.N < d.p.MinSamples {
		return dst
	}
	c := acc.result(d.lsl, d.usl)
	low := !(c.Cpk >= d.p.MinCpk) // NaN (no spread) is not judged low
	if math.IsNaN(c.Cpk) {
		low = false
	}
	if low == st.Active {
		return dst
	}
	st.Active = low
	msg := fmt.Sprintf("%s batch %s capability %s: Cpk %s (Cp %s, Ppk %s; mean %s, sigma %s, n %d) vs minimum %s",
		s.Tag, s.Batch, map[bool]string{true: "too low", false: "back to target"}[low], ratio(c.Cpk), ratio(c.Cp), ratio(c.Ppk),
		d.fm.v(c.Mean), d.fm.v(c.SigmaWithin), c.N, ratio(d.p.MinCpk))
	ev := map[string]float64{"cp": c.Cp, "ppk": c.Ppk, "mean": c.Mean, "sigma": c.SigmaWithin, "n": float64(c.N)}
	for k, v := range ev {
		if !finite(v) {
			delete(ev, k) // JSON cannot carry NaN
		}
	}
	return append(dst, finding(s, NameCpk, "low", low, c.Cpk, d.p.MinCpk, analytics.Warning, msg, ev))
}

// Current is the capability of the running batch so far.
func (d *CpkMonitor) Current() Capability { return d.st.Acc.result(d.lsl, d.usl) }

// AppendStats implements [Detector]: cpk, cp, ppk, n of the running batch
// (the indices only when defined).
func (d *CpkMonitor) AppendStats(dst []Stat) []Stat {
	c := d.Current()
	for _, st := range [...]Stat{{"cpk", c.Cpk}, {"cp", c.Cp}, {"ppk", c.Ppk}} {
		if finite(st.Value) {
			dst = append(dst, st)
		}
	}
	return append(dst, Stat{"n", float64(c.N)})
}

// SetDefaults implements [Spec]: none here (zero takes the detector's
// defaults when it is built).
func (p *CpkParams) SetDefaults() {}

// Check implements [Spec].
func (p *CpkParams) Check() []Problem {
	var out []Problem
	if p.MinCpk < 0 {
		out = append(out, bad("min_cpk", p.MinCpk, "must be ≥ 0 (0 = default 1.33)"))
	}
	if p.MinSamples < 0 || p.MinSamples == 1 {
		out = append(out, bad("min_samples", p.MinSamples, "must be ≥ 2 (0 = default 30)"))
	}
	return out
}

// CheckTarget implements [TargetChecker]: the tag has spec limits.
func (p *CpkParams) CheckTarget(t Target) []Problem {
	if t.LSL == nil && t.USL == nil {
		return []Problem{{Allowed: fmt.Sprintf("tag %s has no spec limits (set spec.lsl and/or spec.usl on the tag)", t.Tag)}}
	}
	return nil
}

// Build implements [Builder]: the tag's spec limits.
func (p *CpkParams) Build(t Target) (Detector, error) {
	d, err := NewCpkMonitor(CpkParams{LSL: t.LSL, USL: t.USL, MinCpk: p.MinCpk, MinSamples: p.MinSamples})
	return formatted(d, err, t)
}
