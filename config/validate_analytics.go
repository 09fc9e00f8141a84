package config

import (
	"fmt"
	"math"
	"strings"
	"time"
)

func (v *validator) analytics() {
	a := v.c.Analytics
	v.id("analytics.consumer", a.Consumer)
	v.minDur("analytics.lag_alarm", a.LagAlarm, time.Second)
	for ri, r := range a.Rules {
		rp := fmt.Sprintf("analytics.rules[%d]", ri)
		if len(r.Tags) == 0 {
			v.errf(rp+".tags", "", "at least one tag pattern (line/machine/tag, '*' for a whole segment) required")
		}
		var matched []TagRef
		for pi, p := range r.Tags {
			pp := fmt.Sprintf("%s.tags[%d]", rp, pi)
			if err := checkPattern(p); err != nil {
				v.errf(pp, p, "%v", err)
				continue
			}
			m := v.c.MatchTags(p)
			if len(m) == 0 {
				v.errf(pp, p, "matches no configured tag")
			}
			matched = append(matched, m...)
		}
		n := 0
		if r.Limits != nil {
			n++
			for _, t := range matched {
				l := t.Tag.Limits
				if l.Lo == nil && l.Hi == nil && l.LoLo == nil && l.HiHi == nil {
					v.errf(rp+".limits", "", "tag %s has no limits (set lolo/lo/hi/hihi on the tag)", t)
				}
			}
			if r.Limits.Deadband < 0 {
				v.errf(rp+".limits.deadband", fmt.Sprint(r.Limits.Deadband), "must be ≥ 0")
			}
		}
		if f := r.Flatline; f != nil {
			n++
			v.minDur(rp+".flatline.window", f.Window, time.Second)
		}
		if f := r.RateOfChange; f != nil {
			n++
			if f.MaxPerMinute <= 0 {
				v.errf(rp+".rate_of_change.max_per_minute", fmt.Sprint(f.MaxPerMinute), "must be > 0")
			}
		}
		if s := r.Shewhart; s != nil {
			n++
			v.baseline(rp+".shewhart.baseline", s.Baseline)
			if s.Preset != "" && len(s.Rules) > 0 {
				v.errf(rp+".shewhart.preset", s.Preset, "give rules or preset, not both")
			}
			if s.Preset != "" {
				v.oneOf(rp+".shewhart.preset", s.Preset, ShewhartPresets)
			}
			for i, n := range s.Rules {
				if n < 1 || n > 8 {
					v.errf(fmt.Sprintf("%s.shewhart.rules[%d]", rp, i), fmt.Sprint(n), "Nelson rules are numbered 1–8")
				}
			}
		}
		if e := r.EWMA; e != nil {
			n++
			v.baseline(rp+".ewma.baseline", e.Baseline)
			if e.Lambda <= 0 || e.Lambda > 1 {
				v.errf(rp+".ewma.lambda", fmt.Sprint(e.Lambda), "must be in (0, 1]; 0.05–0.3 is usual")
			}
			if e.L <= 0 {
				v.errf(rp+".ewma.l", fmt.Sprint(e.L), "must be > 0; 2.7–3 is usual")
			}
			if h := e.Hysteresis; h != nil && (*h < 0 || *h >= 1) {
				v.errf(rp+".ewma.hysteresis", fmt.Sprint(*h), "must be in [0, 1): a fraction of the limits' half-width (0 = none)")
			}
			v.autocorrelation(rp+".ewma.autocorrelation", e.Autocorrelation)
		}
		if c := r.CUSUM; c != nil {
			n++
			v.baseline(rp+".cusum.baseline", c.Baseline)
			if c.K < 0 {
				v.errf(rp+".cusum.k", fmt.Sprint(c.K), "must be ≥ 0 (sigma units; 0.5 detects a 1-sigma shift)")
			}
			if c.H <= 0 {
				v.errf(rp+".cusum.h", fmt.Sprint(c.H), "must be > 0 (sigma units; 4–5 is usual)")
			}
		}
		if p := r.PageHinkley; p != nil {
			n++
			if p.Lambda <= 0 {
				v.errf(rp+".page_hinkley.lambda", fmt.Sprint(p.Lambda), "must be > 0 (detection threshold)")
			}
			if p.Delta < 0 {
				v.errf(rp+".page_hinkley.delta", fmt.Sprint(p.Delta), "must be ≥ 0 (tolerated change)")
			}
			if p.Alpha < 0 || p.Alpha > 1 {
				v.errf(rp+".page_hinkley.alpha", fmt.Sprint(p.Alpha), "must be in [0, 1] (forgetting factor; 0 = none)")
			}
		}
		if m := r.MKT; m != nil {
			n++
			v.minDur(rp+".mkt.window", m.Window, time.Hour)
			if m.DeltaHOverR <= 0 {
				v.errf(rp+".mkt.delta_h_over_r", fmt.Sprint(m.DeltaHOverR), "must be > 0 (USP <1079>: 10000 K)")
			}
			if m.Limit == 0 {
				v.errf(rp+".mkt.limit", "", "required: the label storage limit in °C, e.g. 8 for 2–8 °C product, 25 for CRT")
			}
		}
		if t := r.TOR; t != nil {
			n++
			if t.High <= t.Low {
				v.errf(rp+".tor.high", fmt.Sprint(t.High), "must be greater than low (%g), e.g. low 2, high 8", t.Low)
			}
			v.minDur(rp+".tor.budget", t.Budget, time.Minute)
		}
		if p := r.PChart; p != nil {
			n++
			v.counterTags(rp+".p_chart", matched, p.GoodTag, p.RejectTag)
			v.minDur(rp+".p_chart.subgroup", p.Subgroup, time.Second)
			if p.PBar < 0 || p.PBar >= 1 {
				v.errf(rp+".p_chart.p_bar", fmt.Sprint(p.PBar), "must be in [0, 1) (0 = estimate from the baseline)")
			}
		}
		if y := r.Yield; y != nil {
			n++
			v.counterTags(rp+".yield", matched, y.GoodTag, y.RejectTag)
			if y.Min <= 0 || y.Min > 1 {
				v.errf(rp+".yield.min", fmt.Sprint(y.Min), "must be in (0, 1], e.g. 0.98")
			}
		}
		if st := r.Stale; st != nil {
			n++
			v.minDur(rp+".stale.after", st.After, time.Second)
		}
		if c := r.Cpk; c != nil {
			n++
			for _, t := range matched {
				if t.Tag.Spec.LSL == nil && t.Tag.Spec.USL == nil {
					v.errf(rp+".cpk", "", "tag %s has no spec limits (set spec.lsl and/or spec.usl on the tag)", t)
				}
			}
			if c.MinCpk < 0 {
				v.errf(rp+".cpk.min_cpk", fmt.Sprint(c.MinCpk), "must be ≥ 0 (0 = default 1.33)")
			}
			if c.MinSamples < 0 || c.MinSamples == 1 {
				v.errf(rp+".cpk.min_samples", fmt.Sprint(c.MinSamples), "must be ≥ 2 (0 = default 30)")
			}
		}
		if n == 0 {
			v.errf(rp, "", "no detector: add one of limits, flatline, stale, rate_of_change, shewhart, ewma, cusum, page_hinkley, mkt, tor, p_chart, yield, cpk")
		}
	}
	for mi, m := range a.Models {
		mp := fmt.Sprintf("analytics.models[%d]", mi)
		v.id(mp+".name", m.Name)
		if m.File == "" {
			v.errf(mp+".file", "", "required: the model file written by `linewatch analytics train`")
		}
		line := v.c.line(m.Line)
		if line == nil {
			v.errf(mp+".line", m.Line, "no such line")
			continue
		}
		if len(m.Tags) < 2 {
			v.errf(mp+".tags", "", "a multivariate model needs at least two machine/tag entries")
		}
		for ti, t := range m.Tags {
			mach, tag, _ := strings.Cut(t, "/")
			if line.findTag(mach, tag) == nil {
				v.errf(fmt.Sprintf("%s.tags[%d]", mp, ti), t, "no such machine/tag in line %q", m.Line)
			}
		}
	}
}

func (v *validator) baseline(path string, b Baseline) {
	if (b.Mean == nil) != (b.Sigma == nil) {
		v.errf(path, "", "give mean and sigma together, or samples to estimate them")
	}
	if b.Sigma != nil && *b.Sigma <= 0 {
		v.errf(path+".sigma", fmt.Sprint(*b.Sigma), "must be > 0")
	}
	if b.Mean == nil && b.Samples < 2 {
		v.errf(path+".samples", fmt.Sprint(b.Samples), "must be ≥ 2 to estimate mean and sigma")
	}
}

// counterTags checks that every machine the rule selects has both counters.
func (v *validator) counterTags(path string, matched []TagRef, good, reject string) {
	if good == "" || reject == "" {
		v.errf(path, "", "good_tag and reject_tag (counter tag names of the machine) required")
		return
	}
	for _, t := range matched {
		for _, name := range []string{good, reject} {
			if v.c.Lines[t.LineIndex].findTag(t.Machine.ID, name) == nil {
				v.errf(path, name, "machine %s/%s has no tag %q", t.Line.ID, t.Machine.ID, name)
			}
		}
	}
}

func checkPattern(p string) error {
	parts := strings.Split(p, "/")
	if len(parts) != 3 {
		return fmt.Errorf("expected line/machine/tag ('*' matches a whole segment)")
	}
	for _, s := range parts {
		if s != "*" && !idRe.MatchString(s) {
			return fmt.Errorf("segment %q is neither '*' nor a valid id", s)
		}
	}
	return nil
}

// maxAutocorrelationLags matches detect.MaxAutocorrelationLags (config
// imports no linewatch package; the detector checks the rest when built).
const maxAutocorrelationLags = 500

// autocorrelation checks an EWMA's ρ(1)…ρ(M): each in [-1, 1] and at most
// maxAutocorrelationLags. Whether together they are an autocorrelation
// (a positive EWMA variance) is checked when the detector is built.
func (v *validator) autocorrelation(path string, rho []float64) {
	if len(rho) > maxAutocorrelationLags {
		v.errf(path, fmt.Sprintf("%d lags", len(rho)), "at most %d lags (ρ beyond a few times 1/lambda changes nothing)", maxAutocorrelationLags)
		return
	}
	for i, r := range rho {
		if math.IsNaN(r) || r < -1 || r > 1 {
			v.errf(fmt.Sprintf("%s[%d]", path, i), fmt.Sprint(r), "must be in [-1, 1] (the autocorrelation at lag %d readings; estimate it with linewatch analytics autocorrelation)", i+1)
		}
	}
}
