package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/store"
)

// line builds one dashboard per production line: a row per machine and a
// panel per tag, with the tag's alarm and specification limits as thresholds.
func (g *gen) line(l *config.Line) (*dash, error) {
	title := l.Name
	if title == "" {
		title = l.ID
	}
	d := g.newDash(lineUID(l.ID), title+" ("+l.ID+")",
		"Every tag of line "+l.ID+" with its alarm (LoLo/Lo/Hi/HiHi) and specification (LSL/USL) limits; alarm transitions and batch start/end as annotations.",
		"line", l.ID)
	d.setup(l)
	for mi := range l.Machines {
		m := &l.Machines[mi]
		name := m.Name
		if name == "" {
			name = m.ID
		}
		d.row(name + " (" + m.ID + ")")
		for ti := range m.Tags {
			d.b.WithPanel(d.tagPanel(config.TagRef{Line: l, Machine: m, Tag: &m.Tags[ti]}))
		}
	}
	d.goldenBatch(l)
	return d, nil
}

func lineUID(id string) string {
	u := "lw-line-" + slug(id)
	if len(u) > 40 { // Grafana's uid limit
		u = u[:40]
	}
	return u
}

// tagPanel draws one tag: a trend for numbers, a state timeline for text
// and on/off tags.
func (d *dash) tagPanel(t config.TagRef) cog.Builder[dashboard.Panel] {
	g := d.g
	tg := t.Tag
	title := tg.Name
	if tg.Description != "" {
		title += " — " + tg.Description
	}
	conds := append([]string{fSite, fLine, fMachine}, tagFilter(t)...)
	conds = append(conds, d.batchFilter)
	switch {
	case isTextRole(tg.Role):
		p := d.stateTimeline(title, fmt.Sprintf("%s/%s/%s (role %s): last value per interval.", t.Line.ID, t.Machine.ID, tg.Name, tg.Role))
		if tg.Role == "machine_state" {
			p.Mappings(machineStates)
		}
		return p.WithTarget(d.series("A", tg.Name,
			fmt.Sprintf(`SELECT last(`+qText+`) AS "text" FROM %s %s %s fill(none)`, g.m(store.MeasurementTelemetry), where(append(conds, timeF)...), byTime),
			"time", "text"))
	case isBoolRole(tg.Role):
		p := d.stateTimeline(title, fmt.Sprintf("%s/%s/%s (role %s): last value per interval.", t.Line.ID, t.Machine.ID, tg.Name, tg.Role))
		if tg.Role == "door" {
			p.Mappings(boolDoor)
		} else {
			p.Mappings(boolRunning)
		}
		return p.WithTarget(d.series("A", tg.Name,
			fmt.Sprintf(`SELECT last(`+qValue+`) AS "value" FROM %s %s %s fill(none)`, g.m(store.MeasurementTelemetry), where(append(conds, fGood, timeF)...), byTime),
			"time", "value"))
	}
	agg := "mean"
	if isCounterRole(tg.Role) {
		agg = "max" // a counter's trend is its running total
	}
	p := d.timeSeries(title, fmt.Sprintf("%s/%s/%s in %s; %s. Good-quality samples only (bad and uncertain values are stored but not drawn; see Collector health).",
		t.Line.ID, t.Machine.ID, tg.Name, orDash(tg.Unit), limitsText(tg))).
		Unit(unitFor(tg.Unit)).
		Thresholds(thresholds(limitSteps(tg.Limits, tg.Spec))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLineAndArea)).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdFixed).FixedColor("blue")).
		WithTarget(d.series("A", tg.Name,
			fmt.Sprintf(`SELECT %s(`+qValue+`) AS "value" FROM %s %s %s fill(none)`, agg, g.m(store.MeasurementTelemetry), where(append(conds, fGood, timeF)...), byTime),
			"time", "value"))
	if tg.Decimals != nil {
		p.Decimals(float64(*tg.Decimals))
	} else if isCounterRole(tg.Role) {
		p.Decimals(0)
	}
	// Keep the limit lines in view even while the value sits between them.
	if lo := extreme(-1, tg.Limits.LoLo, tg.Spec.LSL, tg.Limits.Lo); lo != nil {
		p.AxisSoftMin(*lo)
	}
	if hi := extreme(1, tg.Limits.HiHi, tg.Spec.USL, tg.Limits.Hi); hi != nil {
		p.AxisSoftMax(*hi)
	}
	return p
}

// extreme returns the lowest (sign -1) or highest (sign 1) of the set limits.
func extreme(sign float64, ps ...*float64) *float64 {
	var best *float64
	for _, p := range ps {
		if p != nil && (best == nil || sign*(*p) > sign*(*best)) {
			best = p
		}
	}
	return best
}

func orDash(s string) string {
	if s == "" {
		return "no unit"
	}
	return s
}
