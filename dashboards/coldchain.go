package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/store"
)

// coldChain builds the cold chain dashboard for every machine that has a
// tag with a mean kinetic temperature or time-out-of-refrigeration rule:
// its temperatures against the storage band, rolling MKT, TOR budget used,
// humidity and door.
func (g *gen) coldChain() (*dash, error) {
	d := g.newDash("lw-coldchain", g.cfg.Site+" — cold chain",
		"Storage temperatures against the product's band, rolling mean kinetic temperature (USP <1079>) and time out of refrigeration used.", "cold-chain")
	d.setup(nil)
	machines := 0
	for li := range g.cfg.Lines {
		l := &g.cfg.Lines[li]
		for mi := range l.Machines {
			m := &l.Machines[mi]
			var tags []config.TagRef
			var band *detect.TORParams
			for ti := range m.Tags {
				t := config.TagRef{LineIndex: li, Line: l, Machine: m, Tag: &m.Tags[ti]}
				tags = append(tags, t)
				det := g.detectorsOf(t)
				if r, ok := det["tor"]; ok && band == nil {
					band = r.TOR
				}
				if _, ok := det["mkt"]; ok && band == nil {
					band = &detect.TORParams{} // cold chain without a TOR band: use the spec below
				}
			}
			if band == nil {
				continue
			}
			machines++
			d.row(l.ID + " / " + m.ID)
			for _, p := range d.coldChainPanels(tags, *band) {
				d.b.WithPanel(p)
			}
		}
	}
	if machines == 0 {
		return nil, nil
	}
	return d, nil
}

func (d *dash) coldChainPanels(tags []config.TagRef, band detect.TORParams) []cogPanel {
	g := d.g
	var out []cogPanel
	low, high := band.Low, band.High
	var temps, hums []config.TagRef
	decimals := 1.0
	unit := "°C" // a temperature tag without a unit is taken as °C (as MKT does)
	for _, t := range tags {
		switch t.Tag.Role {
		case "temperature":
			if len(temps) == 0 && t.Tag.Unit != "" {
				unit = t.Tag.Unit
			}
			temps = append(temps, t)
			if band.High == 0 && t.Tag.Spec.LSL != nil && t.Tag.Spec.USL != nil {
				low, high = *t.Tag.Spec.LSL, *t.Tag.Spec.USL
			}
			if t.Tag.Decimals != nil {
				decimals = float64(*t.Tag.Decimals)
			}
		case "humidity":
			hums = append(hums, t)
		}
	}
	tele := func(t config.TagRef, extra ...string) string {
		c := append([]string{fSite, fLine, fMachine}, tagFilter(t)...)
		return where(append(c, extra...)...)
	}
	temp := func(v float64) string { return display.Number(v, int(decimals), unit) }
	if len(temps) > 0 {
		p := d.timeSeries("Temperature", fmt.Sprintf("Storage temperature against the %s – %s band (blue: too cold, red: too warm).", temp(low), temp(high))).
			Span(24).
			Unit(unitFor(unit)).Decimals(decimals).
			Thresholds(thresholds(bandSteps(low, high))).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLineAndArea)).
			AxisSoftMin(low - 2).AxisSoftMax(high + 2)
		for i, t := range temps {
			p.WithTarget(d.series(refID(i), t.Tag.Name,
				fmt.Sprintf(`SELECT mean(`+qValue+`) AS "value" FROM %s %s %s fill(none)`, g.m(store.MeasurementTelemetry), tele(t, fGood, timeF), byTime),
				"time", "value"))
		}
		out = append(out, p)
	}
	for _, t := range tags {
		det := g.detectorsOf(t)
		spcWhere := func(detector string) string {
			c := append([]string{fSite, fLine, fMachine}, tagFilter(t)...)
			return where(append(c, eq(store.TagDetector, detector), timeF)...)
		}
		if r, ok := det["mkt"]; ok {
			p := d.timeSeries("Rolling MKT: "+t.Tag.Name,
				fmt.Sprintf("Mean kinetic temperature over the last %s (ΔH/R %g K) against the label storage limit %s.", r.MKT.Window, orDefault(r.MKT.Activation, 10000), temp(r.MKT.Limit))).
				Unit(unitFor(unit)).Decimals(decimals).
				WithTarget(d.series("A", "",
					fmt.Sprintf(`SELECT last("mkt") AS "MKT", last("mkt_limit") AS "limit" FROM %s %s %s fill(none)`, g.m(store.MeasurementSPC), spcWhere("mkt"), byTime),
					"time", "MKT", "limit")).
				OverrideByName("MKT", []dashboard.DynamicConfigValue{fixedColour("blue")}).
				OverrideByName("limit", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()})
			if r.MKT.Limit != 0 {
				p.Thresholds(thresholds(rising(colGood, r.MKT.Limit, colBad))).
					ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
			}
			out = append(out, p)
		}
		if r, ok := det["tor"]; ok {
			out = append(out, d.gauge("TOR budget used: "+t.Tag.Name,
				fmt.Sprintf("Share of the %s time-out-of-refrigeration budget (outside %s – %s) used.", r.TOR.Budget, temp(r.TOR.Low), temp(r.TOR.High))).
				// tor_used_pct is written in percent (0–100), not as a fraction.
				Unit("percent").Decimals(0).Min(0).Max(100).
				Thresholds(thresholds(rising(colGood, 50.0, colWarn, 80.0, colOOS, 100.0, colBad))).
				WithTarget(d.series("A", "used",
					fmt.Sprintf(`SELECT last("tor_used_pct") AS "used" FROM %s %s`, g.m(store.MeasurementSPC), spcWhere("tor")),
					"time", "used")))
			out = append(out, d.timeSeries("Time out of refrigeration: "+t.Tag.Name, "Seconds spent outside the band against the budget.").
				Span(18).
				Unit("s").Decimals(0).Min(0).
				WithTarget(d.series("A", "",
					fmt.Sprintf(`SELECT last("tor_used_s") AS "used", last("tor_budget_s") AS "budget" FROM %s %s %s fill(none)`, g.m(store.MeasurementSPC), spcWhere("tor"), byTime),
					"time", "used", "budget")).
				OverrideByName("budget", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()}))
		}
	}
	for _, t := range hums {
		p := d.timeSeries("Humidity: "+t.Tag.Name, limitsText(t.Tag)).
			Unit(unitFor(t.Tag.Unit)).
			Thresholds(thresholds(limitSteps(t.Tag.Limits, t.Tag.Spec))).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
			WithTarget(d.series("A", t.Tag.Name,
				fmt.Sprintf(`SELECT mean(`+qValue+`) AS "value" FROM %s %s %s fill(none)`, g.m(store.MeasurementTelemetry), tele(t, fGood, timeF), byTime),
				"time", "value"))
		if t.Tag.Decimals != nil {
			p.Decimals(float64(*t.Tag.Decimals))
		}
		out = append(out, p)
	}
	for _, t := range tags {
		if t.Tag.Role != "door" {
			continue
		}
		out = append(out, d.stateTimeline("Door: "+t.Tag.Name, "Door open time lets warm air in: compare with temperature peaks.").
			Span(24).Height(4).
			Mappings(boolDoor).
			WithTarget(d.series("A", t.Tag.Name,
				fmt.Sprintf(`SELECT last(`+qValue+`) AS "value" FROM %s %s %s fill(none)`, g.m(store.MeasurementTelemetry), tele(t, fGood, timeF), byTime),
				"time", "value")))
	}
	return out
}

func refID(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return fmt.Sprintf("%c%d", 'A'+i%26, i/26)
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
