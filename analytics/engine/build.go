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

// buildRule creates the detectors one rule attaches to one tag: every
// detector of the registry (detect.Rule) that the rule sets.
func buildRule(r config.Rule, t detect.Target) ([]detect.Detector, error) {
	var out []detect.Detector
	for _, d := range r.Specs() {
		b, ok := d.Spec.(detect.Builder)
		if !ok {
			continue // per machine (yield): the engine tracks it itself
		}
		det, err := b.Build(t)
		if err != nil {
			return nil, fmt.Errorf("rule %q on %s: %s: %w", r.Name, t.Tag, d.Key, err)
		}
		out = append(out, det)
	}
	return out, nil
}
