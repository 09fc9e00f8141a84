package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/store"
)

// spc builds the statistical process control dashboard: a row per critical
// tag (and per tag with an SPC rule) with its individuals chart, Nelson-rule
// signals, EWMA and CUSUM statistics as configured.
func (g *gen) spc() (*dash, error) {
	d := g.newDash("lw-spc", g.cfg.Site+" — SPC",
		"Control charts of critical tags: values with centre line and control limits, EWMA and CUSUM statistics and Nelson-rule signals, as written by linewatch analytics.", "spc")
	d.setup(nil)
	rows := 0
	for _, t := range g.cfg.AllTags() {
		det := g.detectorsOf(t)
		_, sh := det[detNelson]
		_, ew := det["ewma"]
		_, cu := det["cusum"]
		if !isNumeric(t.Tag) || !(t.Tag.Critical || sh || ew || cu) {
			continue
		}
		rows++
		d.row(t.String())
		for _, p := range d.spcPanels(t, sh, ew, cu) {
			d.b.WithPanel(p)
		}
	}
	if rows == 0 {
		return nil, nil
	}
	return d, nil
}

func (d *dash) spcPanels(t config.TagRef, shewhart, ewma, cusum bool) []cogPanel {
	g := d.g
	tg := t.Tag
	unit := unitFor(tg.Unit)
	spcWhere := func(detector string, extra ...string) string {
		c := append([]string{fSite, fLine, fMachine}, tagFilter(t)...)
		c = append(c, eq(store.TagDetector, detector))
		return where(append(c, extra...)...)
	}
	var out []cogPanel

	chart := d.timeSeries("Individuals: "+tg.Name,
		fmt.Sprintf("Values of %s (good quality) with the Shewhart centre line and 3σ control limits; dashed thresholds are the specification limits (%s).", t, limitsText(tg))).
		Unit(unit).
		Thresholds(thresholds(limitSteps(config.Limits{}, tg.Spec))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		WithTarget(d.series("A", "value",
			fmt.Sprintf(`SELECT mean(`+qValue+`) AS "value" FROM %s %s %s fill(none)`, g.m(store.MeasurementTelemetry),
				where(append(append([]string{fSite, fLine, fMachine}, tagFilter(t)...), d.batchFilter, fGood, timeF)...), byTime),
			"time", "value")).
		OverrideByName("value", []dashboard.DynamicConfigValue{fixedColour("blue")})
	if tg.Decimals != nil {
		chart.Decimals(float64(*tg.Decimals))
	}
	if shewhart {
		chart.WithTarget(d.series("B", "",
			fmt.Sprintf(`SELECT last("cl") AS "centre", last("ucl") AS "UCL", last("lcl") AS "LCL" FROM %s %s %s fill(none)`,
				g.m(store.MeasurementSPC), spcWhere(detNelson, timeF), byTime),
			"time", "centre", "UCL", "LCL"))
		controlLineStyles(chart)
	}
	out = append(out, chart)

	if shewhart {
		// The rule that fired is in the alarm (its id and message), not in spc.
		c := append([]string{fSite, fLine, fMachine}, tagFilter(t)...)
		out = append(out, d.tablePanel("Nelson-rule signals: "+tg.Name,
			"Nelson-rule alarms of the individuals chart (alarms measurement, detector nelson), newest first: the message names the rule that fired.").
			OverrideByName("value", []dashboard.DynamicConfigValue{unitProp(unit)}).
			WithTarget(d.table("A",
				fmt.Sprintf(`SELECT "message", "value", "state" FROM %s %s ORDER BY time DESC LIMIT 500`,
					g.m(store.MeasurementAlarms), where(append(c, eq(store.TagDetector, detNelson), eq(store.TagEvent, "activate"), timeF)...)),
				"time", "message", "value", "state")))
	}
	if ewma {
		p := d.timeSeries("EWMA: "+tg.Name, "Exponentially weighted moving average with its control limits; a point outside UCL/LCL is a sustained small shift.").
			Unit(unit).
			WithTarget(d.series("A", "",
				fmt.Sprintf(`SELECT last("ewma") AS "EWMA", last("cl") AS "centre", last("ucl") AS "UCL", last("lcl") AS "LCL" FROM %s %s %s fill(none)`,
					g.m(store.MeasurementSPC), spcWhere("ewma", timeF), byTime),
				"time", "EWMA", "centre", "UCL", "LCL")).
			OverrideByName("EWMA", []dashboard.DynamicConfigValue{fixedColour("blue")})
		if tg.Decimals != nil {
			p.Decimals(float64(*tg.Decimals) + 1)
		}
		controlLineStyles(p)
		out = append(out, p)
	}
	if cusum {
		out = append(out, d.timeSeries("CUSUM: "+tg.Name, "Tabular CUSUM in the tag's unit: C+ accumulates upward drift, C− downward; a signal when either crosses the decision interval H (h·σ).").
			Unit(unit).Min(0).
			WithTarget(d.series("A", "",
				fmt.Sprintf(`SELECT last("cusum_hi") AS "C+", last("cusum_lo") AS "C−", last("cusum_h") AS "H" FROM %s %s %s fill(none)`,
					g.m(store.MeasurementSPC), spcWhere("cusum", timeF), byTime),
				"time", "C+", "C−", "H")).
			OverrideByName("C+", []dashboard.DynamicConfigValue{fixedColour("orange")}).
			OverrideByName("C−", []dashboard.DynamicConfigValue{fixedColour("purple")}).
			OverrideByName("H", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()}))
	}
	return out
}

type cogPanel = cog.Builder[dashboard.Panel]

type overrider[B any] interface {
	OverrideByName(string, []dashboard.DynamicConfigValue) B
}

// controlLineStyles draws centre green and control limits red, dashed.
func controlLineStyles[B any](p overrider[B]) {
	p.OverrideByName("centre", []dashboard.DynamicConfigValue{fixedColour(colGood), dashed()})
	p.OverrideByName("UCL", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()})
	p.OverrideByName("LCL", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()})
}
