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
	// A storage location's probe without a cold-chain rule still gets its
	// MKT (ΔH/R 10 000 K, USP <1079>), with no limit to judge it against.
	if p.storage && a.mkt == nil {
		win := 2*p.b.End.Sub(p.b.Start) + time.Hour
		if d, err := newRollingMKT(win, 1000, 10000); err == nil {
			if a.cold == nil {
				a.cold = &ColdChain{Machine: t.Machine.ID, Tag: t.Tag.Name, MKT: nan(), MKTLimit: nan(), Activation: nan(), TORLow: nan(), TORHigh: nan()}
			}
			a.mkt = d
			a.cold.HasMKT, a.cold.Activation = true, 10000
		}
	}
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

func newRollingMKT(window time.Duration, limit, activation float64) (*detect.RollingMKT, error) {
	return detect.NewRollingMKT(detect.MKTParams{Window: window, Limit: limit, Activation: activation})
}

func newTOR(r *detect.TORParams) (*detect.TOR, error) {
	return detect.NewTOR(detect.TORParams{Low: r.Low, High: r.High, Budget: r.Budget, FreezeSensitive: r.FreezeSensitive})
}
