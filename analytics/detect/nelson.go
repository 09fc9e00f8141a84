package detect

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// NelsonParams configures an individuals chart with Nelson's run rules
// (Nelson, J. Quality Technology 16(4), 1984):
//
//	1  one point beyond 3σ
//	2  nine points in a row on the same side of the centre line
//	3  six points in a row steadily increasing or decreasing
//	4  fourteen points in a row alternating up and down
//	5  two out of three points beyond 2σ on the same side
//	6  four out of five points beyond 1σ on the same side
//	7  fifteen points in a row within 1σ
//	8  eight points in a row beyond 1σ (either side)
type NelsonParams struct {
	SPCParams `yaml:",inline"`
	// Rules to apply (any subset of 1..8); default all eight, or the
	// Western Electric rules 1, 2, 5, 6 when Preset is "western_electric".
	Rules  []int  `json:"rules,omitempty" yaml:"rules"`
	Preset string `json:"preset,omitempty" yaml:"preset"` // "nelson" (default) or "western_electric"
	// Rule2Run is the run length of rule 2: 9 (Nelson), 8 (Western Electric).
	Rule2Run int `json:"rule2_run,omitempty" yaml:"-"`
	// MovingRange adds the moving-range chart: rule "mr" when |xᵢ − xᵢ₋₁|
	// exceeds D4·MR̄.
	MovingRange bool `json:"moving_range,omitempty" yaml:"-"`
}

// WesternElectric returns the Western Electric preset on the given chart.
func WesternElectric(spc SPCParams) NelsonParams {
	return NelsonParams{SPCParams: spc, Preset: "western_electric"}
}

func (p NelsonParams) withDefaults() NelsonParams {
	p.SPCParams = p.SPCParams.withDefaults()
	we := p.Preset == "western_electric"
	if p.Rules == nil {
		if we {
			p.Rules = []int{1, 2, 5, 6}
		} else {
			p.Rules = []int{1, 2, 3, 4, 5, 6, 7, 8}
		}
	}
	if p.Rule2Run == 0 {
		p.Rule2Run = 9
		if we {
			p.Rule2Run = 8
		}
	}
	return p
}

// Validate reports every problem at once.
func (p NelsonParams) Validate() error {
	errs := []error{p.SPCParams.validate(NameNelson)}
	if p.Preset != "" && p.Preset != "nelson" && p.Preset != "western_electric" {
		errs = append(errs, fmt.Errorf("nelson: preset %q unknown (use nelson or western_electric)", p.Preset))
	}
	if p.Rules != nil && len(p.Rules) == 0 && !p.MovingRange {
		errs = append(errs, errors.New("nelson: rules is empty; list rules 1..8 or enable moving_range"))
	}
	for _, r := range p.Rules {
		if r < 1 || r > 8 {
			errs = append(errs, fmt.Errorf("nelson: rule %d does not exist (rules are 1..8)", r))
		}
	}
	if p.Rule2Run < 0 || p.Rule2Run == 1 {
		errs = append(errs, fmt.Errorf("nelson: rule2_run = %d must be >= 2", p.Rule2Run))
	}
	return errors.Join(errs...)
}

var nelsonRule = [10]string{"", "nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8", "mr"}

const ruleMR = 9

type nelsonState struct {
	B       baseline   `json:"baseline"`
	N       int        `json:"n"` // charted points
	Prev    float64    `json:"prev"`
	Z       [5]float64 `json:"z"` // last five z-scores, ring
	Side    int        `json:"side"`
	SideRun int        `json:"side_run"`
	Dir     int        `json:"dir"`
	Trend   int        `json:"trend"` // consecutive moves in Dir
	AltSign int        `json:"alt_sign"`
	Alt     int        `json:"alt"`  // consecutive alternating moves
	In1     int        `json:"in1"`  // run within 1σ
	Out1    int        `json:"out1"` // run beyond 1σ
	LastZ   float64    `json:"last_z"`
	Up2     int        `json:"up2"` // of the last 3 points, beyond +2σ
	Dn2     int        `json:"dn2"`
	Up1     int        `json:"up1"` // of the last 5 points, beyond +1σ
	Dn1     int        `json:"dn1"`
	LastMR  float64    `json:"last_mr"`
	Active  [10]bool   `json:"active"`
}

// Nelson is an individuals (and optionally moving-range) chart with run rules.
type Nelson struct {
	core[NelsonParams, nelsonState]
	rules [10]bool
}

// NewNelson validates p and returns the detector.
func NewNelson(p NelsonParams) (*Nelson, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	d := &Nelson{core: core[NelsonParams, nelsonState]{name: NameNelson, p: p, st: nelsonState{B: newBaseline(p.SPCParams)}}}
	for _, r := range p.Rules {
		d.rules[r] = true
	}
	d.rules[ruleMR] = p.MovingRange
	return d, nil
}

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// Update implements [Detector].
func (d *Nelson) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) {
		return dst
	}
	st := &d.st
	x := s.Value
	if !st.B.Ready {
		if st.B.add(x, d.p.Baseline) {
			st.Prev = x
			st.N = 0
		}
		return dst
	}
	z := (x - st.B.Mean) / st.B.Sigma
	havePrev := st.N > 0 || d.p.Sigma == 0 // a learned baseline leaves its last reading as prev
	var diff float64
	if havePrev {
		diff = x - st.Prev
	}
	// Window counts for rules 5 and 6, updated as points enter and leave.
	if st.N >= 5 {
		old := st.Z[st.N%5]
		st.Up1 -= b2i(old > 1)
		st.Dn1 -= b2i(old < -1)
	}
	if st.N >= 3 {
		old := st.Z[(st.N-3)%5]
		st.Up2 -= b2i(old > 2)
		st.Dn2 -= b2i(old < -2)
	}
	st.Up1 += b2i(z > 1)
	st.Dn1 += b2i(z < -1)
	st.Up2 += b2i(z > 2)
	st.Dn2 += b2i(z < -2)
	st.Z[st.N%5] = z
	st.N++
	st.Prev = x
	st.LastZ = z

	if side := sign(z); side != 0 && side == st.Side {
		st.SideRun++
	} else {
		st.Side, st.SideRun = side, min(1, side*side)
	}
	ds := sign(diff)
	if !havePrev {
		ds = 0
	}
	if ds != 0 && ds == st.Dir {
		st.Trend++
	} else {
		st.Dir, st.Trend = ds, ds*ds
	}
	if ds != 0 && ds == -st.AltSign {
		st.Alt++
	} else {
		st.Alt = ds * ds
	}
	st.AltSign = ds
	if math.Abs(z) < 1 {
		st.In1++
		st.Out1 = 0
	} else {
		st.Out1++
		st.In1 = 0
	}

	var cond [10]bool
	cond[1] = math.Abs(z) > 3
	cond[2] = st.SideRun >= d.p.Rule2Run
	cond[3] = st.Trend >= 5 // six points, five moves
	cond[4] = st.Alt >= 13  // fourteen points, thirteen moves
	cond[5] = st.Up2 >= 2 || st.Dn2 >= 2
	cond[6] = st.Up1 >= 4 || st.Dn1 >= 4
	cond[7] = st.In1 >= 15
	cond[8] = st.Out1 >= 8
	mrLimit := D4 * D2 * st.B.Sigma
	if havePrev {
		st.LastMR = math.Abs(diff)
		cond[ruleMR] = st.LastMR > mrLimit
	}
	for r := 1; r < len(cond); r++ {
		if !d.rules[r] || cond[r] == st.Active[r] {
			continue
		}
		st.Active[r] = cond[r]
		dst = append(dst, d.nelsonFinding(s, r, cond[r], z, mrLimit))
	}
	return dst
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var nelsonText = [10]string{"",
	"point beyond 3 sigma",
	"run of points on one side of the centre line",
	"six points steadily increasing or decreasing",
	"fourteen points alternating up and down",
	"two of three points beyond 2 sigma on one side",
	"four of five points beyond 1 sigma on one side",
	"fifteen points within 1 sigma (stratification)",
	"eight points beyond 1 sigma (mixture)",
	"moving range above its control limit",
}

func (d *Nelson) nelsonFinding(s sample.Sample, r int, active bool, z, mrLimit float64) analytics.Finding {
	b := d.st.B
	stat, limit := z, 0.0
	switch r {
	case 1:
		limit = 3
	case 5:
		limit = 2
	case 6, 7, 8:
		limit = 1
	case ruleMR:
		stat, limit = d.st.LastMR, mrLimit
	}
	v := d.fm.v
	msg := fmt.Sprintf("%s SPC %s (%s) %s: value %s, z = %s (centre %s, sigma %s, limits %s … %s)",
		s.Tag, nelsonRule[r], nelsonText[r], verb(active), v(s.Value), ratio(z), v(b.Mean), v(b.Sigma), v(b.Mean-3*b.Sigma), v(b.Mean+3*b.Sigma))
	sev := analytics.Warning
	if r == 1 {
		sev = analytics.Critical
	}
	ev := map[string]float64{"cl": b.Mean, "sigma": b.Sigma, "z": z}
	return finding(s, NameNelson, nelsonRule[r], active, stat, limit, sev, msg, ev)
}

// AppendStats implements [Detector]: cl, sigma, ucl, lcl, z and, with the
// moving-range chart, mr and mr_ucl. Nothing while the baseline is learned.
func (d *Nelson) AppendStats(dst []Stat) []Stat {
	b := d.st.B
	if !b.Ready {
		return dst
	}
	dst = append(dst, Stat{"cl", b.Mean}, Stat{"sigma", b.Sigma},
		Stat{"ucl", b.Mean + 3*b.Sigma}, Stat{"lcl", b.Mean - 3*b.Sigma}, Stat{"z", d.st.LastZ})
	if d.p.MovingRange {
		dst = append(dst, Stat{"mr", d.st.LastMR}, Stat{"mr_ucl", D4 * D2 * b.Sigma})
	}
	return dst
}

// Restore implements [Detector].
func (d *Nelson) Restore(data []byte) error {
	st, err := d.load(data)
	if err != nil {
		return err
	}
	if st.N < 0 || (st.B.Ready && !(st.B.Sigma > 0)) {
		return fmt.Errorf("restore nelson state: corrupt (n %d, sigma %g); discard the saved state", st.N, st.B.Sigma)
	}
	d.st = st
	return nil
}

// NelsonPresets are the rule sets a configured Shewhart chart may name.
var NelsonPresets = []string{"nelson", "western_electric"}

// SetDefaults implements [Spec]: without rules or preset, all eight rules.
func (p *NelsonParams) SetDefaults() {
	p.SPCParams.setDefaults()
	if len(p.Rules) == 0 && p.Preset == "" {
		p.Preset = "nelson"
	}
}

// Check implements [Spec].
func (p *NelsonParams) Check() []Problem {
	out := p.SPCParams.check()
	if p.Preset != "" && len(p.Rules) > 0 {
		out = append(out, Problem{Field: "preset", Value: p.Preset, Allowed: "give rules or preset, not both"})
	}
	if p.Preset != "" && !slices.Contains(NelsonPresets, p.Preset) {
		out = append(out, Problem{Field: "preset", Value: p.Preset, OneOf: NelsonPresets})
	}
	for i, n := range p.Rules {
		if n < 1 || n > 8 {
			out = append(out, bad(fmt.Sprintf("rules[%d]", i), n, "Nelson rules are numbered 1–8"))
		}
	}
	return out
}

// Build implements [Builder].
func (p *NelsonParams) Build(t Target) (Detector, error) {
	q := *p
	q.SPCParams = p.resolved()
	d, err := NewNelson(q)
	return formatted(d, err, t)
}
