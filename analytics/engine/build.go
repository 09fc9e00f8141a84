package engine

import (
	"fmt"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
)

// instance is one detector attached to one tag (or, for counter-based
// detectors, to one machine's pair of counters).
type instance struct {
	upperOnly bool   // drop lower-limit findings (one-sided p-chart)
	id        string // line/machine/tag/detector, stable across restarts
	line      string
	machine   string
	tag       string
	det       detect.Detector
	nextStat  time.Time
}

// buildRule creates the detectors one rule attaches to one tag.
func buildRule(r config.Rule, t config.TagRef) ([]detect.Detector, error) {
	var out []detect.Detector
	add := func(d detect.Detector, err error) error {
		if err != nil {
			return fmt.Errorf("rule %q on %s: %w", r.Name, t, err)
		}
		out = append(out, d)
		return nil
	}
	spc := func(b config.Baseline) detect.SPCParams {
		p := detect.SPCParams{Baseline: b.Samples}
		if b.Mean != nil && b.Sigma != nil {
			p = detect.SPCParams{Mean: *b.Mean, Sigma: *b.Sigma}
		}
		return p
	}
	if l := r.Limits; l != nil {
		lim := t.Tag.Limits
		p := detect.LimitsParams{Lo: lim.Lo, Hi: lim.Hi, LoLo: lim.LoLo, HiHi: lim.HiHi, OnDelay: l.OnDelay, OffDelay: l.OffDelay, Deadband: l.Deadband}
		if t.Tag.Role == "humidity" {
			p.Detector = detect.NameHumidity
		}
		if err := add(asDet(detect.NewLimits(p))); err != nil {
			return nil, err
		}
	}
	if f := r.Flatline; f != nil {
		if err := add(asDet(detect.NewFlatline(detect.FlatlineParams{Duration: f.Window, Tolerance: f.Tolerance}))); err != nil {
			return nil, err
		}
	}
	if f := r.RateOfChange; f != nil {
		if err := add(asDet(detect.NewROC(detect.ROCParams{MaxRise: f.MaxPerMinute, MaxFall: f.MaxPerMinute}))); err != nil {
			return nil, err
		}
	}
	if s := r.Shewhart; s != nil {
		if err := add(asDet(detect.NewNelson(detect.NelsonParams{SPCParams: spc(s.Baseline), Rules: s.Rules, Preset: s.Preset}))); err != nil {
			return nil, err
		}
	}
	if e := r.EWMA; e != nil {
		var h float64 // nil only for a Config not made by config.Load
		if e.Hysteresis != nil {
			h = *e.Hysteresis
		}
		if err := add(asDet(detect.NewEWMA(detect.EWMAParams{SPCParams: spc(e.Baseline), Lambda: e.Lambda, L: e.L, Asymptotic: e.Asymptotic, Hysteresis: h, Autocorrelation: e.Autocorrelation}))); err != nil {
			return nil, err
		}
	}
	if c := r.CUSUM; c != nil {
		if err := add(asDet(detect.NewCUSUM(detect.CUSUMParams{SPCParams: spc(c.Baseline), K: c.K, H: c.H}))); err != nil {
			return nil, err
		}
	}
	if p := r.PageHinkley; p != nil {
		if err := add(asDet(detect.NewPageHinkley(detect.PageHinkleyParams{Delta: p.Delta, Lambda: p.Lambda, Alpha: p.Alpha}))); err != nil {
			return nil, err
		}
	}
	if m := r.MKT; m != nil {
		if err := add(asDet(detect.NewRollingMKT(detect.MKTParams{Window: m.Window, Limit: m.Limit, Activation: m.DeltaHOverR}))); err != nil {
			return nil, err
		}
	}
	if tr := r.TOR; tr != nil {
		if err := add(asDet(detect.NewTOR(detect.TORParams{Low: tr.Low, High: tr.High, Budget: tr.Budget, FreezeSensitive: tr.FreezeSensitive}))); err != nil {
			return nil, err
		}
	}
	if st := r.Stale; st != nil {
		if err := add(asDet(detect.NewStale(detect.StaleParams{After: st.After}))); err != nil {
			return nil, err
		}
	}
	if c := r.Cpk; c != nil {
		if err := add(asDet(detect.NewCpkMonitor(detect.CpkParams{LSL: t.Tag.Spec.LSL, USL: t.Tag.Spec.USL, MinCpk: c.MinCpk, MinSamples: c.MinSamples}))); err != nil {
			return nil, err
		}
	}
	if p := r.PChart; p != nil {
		if err := add(asDet(detect.NewPChart(detect.PChartParams{
			GoodTag: p.GoodTag, RejectTag: p.RejectTag, SubgroupSpan: p.Subgroup,
			PBar: p.PBar, BaselineSubgroups: p.BaselineSubgroups, Laney: p.Laney,
		}))); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// asDet turns a typed constructor result into the interface, keeping a nil
// interface (not a typed nil) on error.
func asDet[D detect.Detector](d D, err error) (detect.Detector, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}
