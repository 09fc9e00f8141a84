package dashboards

import (
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

// Grafana colours used consistently: the worse the condition, the redder.
const (
	colGood    = "green"
	colWarn    = "yellow" // outside the lo/hi alarm limits
	colOOS     = "orange" // outside the product specification
	colBad     = "red"    // beyond lolo/hihi
	colCold    = "blue"   // below a cold-chain band
	colNeutral = "text"
)

// limitSteps turns a tag's alarm limits and specification limits into
// Grafana threshold steps: one step at every configured limit, each region
// coloured by the worst condition it lies in.
func limitSteps(l config.Limits, s config.Spec) []dashboard.Threshold {
	var pts []float64
	for _, p := range []*float64{l.LoLo, l.Lo, l.Hi, l.HiHi, s.LSL, s.USL} {
		if p != nil {
			pts = append(pts, *p)
		}
	}
	sort.Float64s(pts)
	pts = uniq(pts)
	classify := func(v float64) string {
		switch {
		case l.LoLo != nil && v < *l.LoLo, l.HiHi != nil && v > *l.HiHi:
			return colBad
		case s.LSL != nil && v < *s.LSL, s.USL != nil && v > *s.USL:
			return colOOS
		case l.Lo != nil && v < *l.Lo, l.Hi != nil && v > *l.Hi:
			return colWarn
		}
		return colGood
	}
	if len(pts) == 0 {
		return []dashboard.Threshold{{Color: colGood}}
	}
	steps := []dashboard.Threshold{{Color: classify(pts[0] - 1)}}
	for i, p := range pts {
		probe := p + 1
		if i+1 < len(pts) {
			probe = (p + pts[i+1]) / 2
		}
		steps = append(steps, dashboard.Threshold{Value: ptr(p), Color: classify(probe)})
	}
	return steps
}

// bandSteps colours a storage band: blue below, green inside, red above.
func bandSteps(low, high float64) []dashboard.Threshold {
	return []dashboard.Threshold{{Color: colCold}, {Value: ptr(low), Color: colGood}, {Value: ptr(high), Color: colBad}}
}

// rising colours a "higher is worse" statistic.
func rising(base string, steps ...any) []dashboard.Threshold {
	out := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		out = append(out, dashboard.Threshold{Value: ptr(steps[i].(float64)), Color: steps[i+1].(string)})
	}
	return out
}

func thresholds(steps []dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

// limitsText describes the limits for a panel description.
func limitsText(t *config.Tag) string {
	var parts []string
	for _, l := range t.NamedLimits() {
		parts = append(parts, l.Name+" "+display.Number(l.Value, decimalsOf(t), ""))
	}
	if len(parts) == 0 {
		return "no limits configured"
	}
	return strings.TrimSpace(strings.Join(parts, ", ") + " " + t.Unit)
}

// decimalsOf is the tag's decimals (display.DefaultDecimals if unset).
func decimalsOf(t *config.Tag) int {
	if t.Decimals != nil {
		return *t.Decimals
	}
	return display.DefaultDecimals
}

func uniq(v []float64) []float64 {
	out := v[:0]
	for i, x := range v {
		if i == 0 || x != v[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
