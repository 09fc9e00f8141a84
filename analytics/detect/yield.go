package detect

import (
	"errors"
	"fmt"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// BatchCounts are the unit counts of one batch, as needed for yield and
// reconciliation (21 CFR 211.103, 211.192; EU GMP Part I 5.39).
type BatchCounts struct {
	Theoretical float64 `json:"theoretical"` // quantity that should have been produced
	Good        float64 `json:"good"`        // released / accepted units
	Rejects     float64 `json:"rejects"`
	Samples     float64 `json:"samples,omitempty"` // QC and retention samples taken
	Waste       float64 `json:"waste,omitempty"`   // set-up and destroyed units
}

// YieldParams are the acceptance ranges of a product in % of theoretical.
// A zero range is not checked.
type YieldParams struct {
	YieldMin          float64 `json:"yield_min,omitempty"`          // e.g. 95
	YieldMax          float64 `json:"yield_max,omitempty"`          // e.g. 101
	ReconciliationMin float64 `json:"reconciliation_min,omitempty"` // e.g. 99.5
	ReconciliationMax float64 `json:"reconciliation_max,omitempty"` // e.g. 100.5
}

// Validate reports every problem at once.
func (p YieldParams) Validate() error {
	var errs []error
	if p.YieldMin < 0 || (p.YieldMax != 0 && p.YieldMax < p.YieldMin) {
		errs = append(errs, fmt.Errorf("yield: yield_min = %g must be >= 0 and <= yield_max = %g", p.YieldMin, p.YieldMax))
	}
	if p.ReconciliationMin < 0 || (p.ReconciliationMax != 0 && p.ReconciliationMax < p.ReconciliationMin) {
		errs = append(errs, fmt.Errorf("yield: reconciliation_min = %g must be >= 0 and <= reconciliation_max = %g", p.ReconciliationMin, p.ReconciliationMax))
	}
	return errors.Join(errs...)
}

// Reconciliation is the outcome of a batch's yield check.
type Reconciliation struct {
	Yield          float64 `json:"yield_pct"`          // good / theoretical · 100
	Reconciliation float64 `json:"reconciliation_pct"` // (good + rejects + samples + waste) / theoretical · 100
	RejectRate     float64 `json:"reject_rate_pct"`    // rejects / (good + rejects) · 100
	Unaccounted    float64 `json:"unaccounted"`        // theoretical − all accounted units
}

// Reconcile computes yield and reconciliation of a batch and returns a
// finding for each value outside its range ("yield" / "yield_low",
// "yield_high", "reconciliation"). id gives site, line, machine, tag,
// batch and time of the findings.
func Reconcile(c BatchCounts, p YieldParams, id sample.Sample) (Reconciliation, []analytics.Finding, error) {
	if err := p.Validate(); err != nil {
		return Reconciliation{}, nil, err
	}
	if !(c.Theoretical > 0) || c.Good < 0 || c.Rejects < 0 || c.Samples < 0 || c.Waste < 0 {
		return Reconciliation{}, nil, fmt.Errorf("yield: batch %s counts %+v: theoretical must be > 0 and counts >= 0", id.Batch, c)
	}
	accounted := c.Good + c.Rejects + c.Samples + c.Waste
	r := Reconciliation{
		Yield:          100 * c.Good / c.Theoretical,
		Reconciliation: 100 * accounted / c.Theoretical,
		Unaccounted:    c.Theoretical - accounted,
	}
	if c.Good+c.Rejects > 0 {
		r.RejectRate = 100 * c.Rejects / (c.Good + c.Rejects)
	}
	var out []analytics.Finding
	ev := map[string]float64{"theoretical": c.Theoretical, "good": c.Good, "rejects": c.Rejects, "samples": c.Samples, "waste": c.Waste}
	id.Value = r.Yield
	if p.YieldMin > 0 && r.Yield < p.YieldMin {
		out = append(out, finding(id, NameYield, "yield_low", true, r.Yield, p.YieldMin, analytics.Warning,
			fmt.Sprintf("batch %s yield %s below minimum %s (%s good of %s theoretical)", id.Batch, pct(r.Yield), pct(p.YieldMin), count(c.Good), count(c.Theoretical)), ev))
	}
	if p.YieldMax > 0 && r.Yield > p.YieldMax {
		out = append(out, finding(id, NameYield, "yield_high", true, r.Yield, p.YieldMax, analytics.Warning,
			fmt.Sprintf("batch %s yield %s above maximum %s (%s good of %s theoretical): check counts", id.Batch, pct(r.Yield), pct(p.YieldMax), count(c.Good), count(c.Theoretical)), ev))
	}
	lo, hi := p.ReconciliationMin, p.ReconciliationMax
	if (lo > 0 && r.Reconciliation < lo) || (hi > 0 && r.Reconciliation > hi) {
		lim := lo
		if hi > 0 && r.Reconciliation > hi {
			lim = hi
		}
		id.Value = r.Reconciliation
		out = append(out, finding(id, NameYield, "reconciliation", true, r.Reconciliation, lim, analytics.Critical,
			fmt.Sprintf("batch %s reconciliation %s outside %s: %s units unaccounted of %s theoretical", id.Batch, pct(r.Reconciliation), pctRange(lo, hi), count(r.Unaccounted), count(c.Theoretical)), ev))
	}
	return r, out, nil
}

// pctRange writes an acceptance range whose 0 ends are not checked.
func pctRange(lo, hi float64) string {
	switch {
	case hi == 0:
		return "minimum " + pct(lo)
	case lo == 0:
		return "maximum " + pct(hi)
	}
	return pct(lo) + " – " + pct(hi)
}

// YieldRule is a configured per-batch yield check, good/(good+reject) of
// two counters of the rule's machine against a minimum. The engine tracks
// it per machine and batch, so it builds no [Detector].
type YieldRule struct {
	GoodTag   string  `yaml:"good_tag"`
	RejectTag string  `yaml:"reject_tag"`
	Min       float64 `yaml:"min"`
}

// SetDefaults implements [Spec]: none.
func (p *YieldRule) SetDefaults() {}

// Check implements [Spec].
func (p *YieldRule) Check() []Problem {
	out := counterTags(p.GoodTag, p.RejectTag)
	if p.Min <= 0 || p.Min > 1 {
		out = append(out, bad("min", p.Min, "must be in (0, 1], e.g. 0.98"))
	}
	return out
}

// CheckTarget implements [TargetChecker]: the machine has both counters.
func (p *YieldRule) CheckTarget(t Target) []Problem { return hasCounters(t, p.GoodTag, p.RejectTag) }

// Params is the batch check in percent.
func (p *YieldRule) Params() YieldParams { return YieldParams{YieldMin: 100 * p.Min} }
