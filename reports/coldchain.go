package reports

import (
	"fmt"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
)

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
			d, err := newRollingMKT(win, m.Limit, act, t.Tag.Unit)
			if err == nil {
				a.mkt = d
				a.cold.HasMKT, a.cold.MKTLimit, a.cold.Activation = true, Num(m.Limit), Num(act)
			}
		}
		if tr := rule.TOR; tr != nil && a.tor == nil {
			d, err := newTOR(tr, t.Tag.Unit)
			if err == nil {
				a.tor = d
				a.cold.HasTOR, a.cold.TORBudget, a.cold.TORLow, a.cold.TORHigh = true, tr.Budget, Num(tr.Low), Num(tr.High)
			}
		}
	}
	// A storage location's probe without a cold-chain rule still gets its
	// MKT (ΔH/R 10 000 K, USP <1079>), with no limit to judge it against.
	if p.storage && a.mkt == nil {
		win := 2*p.b.End.Sub(p.b.Start) + time.Hour
		if d, err := newRollingMKT(win, 1000, 10000, t.Tag.Unit); err == nil {
			if a.cold == nil {
				a.cold = &ColdChain{Machine: t.Machine.ID, Tag: t.Tag.Name, MKT: nan(), MKTLimit: nan(), Activation: nan(), TORLow: nan(), TORHigh: nan()}
			}
			a.mkt = d
			a.cold.HasMKT, a.cold.Activation = true, 10000
		}
	}
}

// coldChainText is the cold-chain sentence of a tag, its temperatures
// written by v (the tag's unit and decimals).
func coldChainText(c ColdChain, v func(float64) string) string {
	s := ""
	if c.HasMKT {
		verdict := "within"
		if !c.MKTOK {
			verdict = "ABOVE"
		}
		mkt := "—"
		if c.MKT.Defined() {
			mkt = v(float64(c.MKT))
		}
		s = fmt.Sprintf("MKT %s over the batch (ΔH/R %g K)", mkt, float64(c.Activation))
		if c.MKTLimit.Defined() {
			s += fmt.Sprintf(" %s label limit %s", verdict, v(float64(c.MKTLimit)))
		} else {
			s += ", no label limit configured"
		}
	}
	if c.HasTOR {
		if s != "" {
			s += "; "
		}
		verdict := "within"
		if !c.TOROK {
			verdict = "BUDGET USED UP"
		}
		s += fmt.Sprintf("time out of %s – %s %v of %v budget (%s)", v(float64(c.TORLow)), v(float64(c.TORHigh)), c.TORUsed, c.TORBudget, verdict)
	}
	return s
}

// newRollingMKT is the batch MKT of a probe whose readings are in unit
// (°C, °F or K: the same detector, and scale, as the engine's).
func newRollingMKT(window time.Duration, limit, activation float64, unit string) (*detect.RollingMKT, error) {
	scale, err := detect.TemperatureScale(unit)
	if err != nil {
		return nil, err
	}
	return detect.NewRollingMKT(detect.MKTParams{Window: window, Limit: limit, Activation: activation, Scale: scale})
}

func newTOR(r *detect.TORParams, unit string) (*detect.TOR, error) {
	scale, err := detect.TemperatureScale(unit)
	if err != nil {
		return nil, err
	}
	return detect.NewTOR(detect.TORParams{Low: r.Low, High: r.High, Budget: r.Budget, FreezeSensitive: r.FreezeSensitive, Scale: scale})
}
