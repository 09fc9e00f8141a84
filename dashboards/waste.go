package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/store"
)

// waste builds the waste dashboard: reject-fraction p-charts and the
// capability per batch of weight tags with specification limits.
func (g *gen) waste() (*dash, error) {
	d := g.newDash("lw-waste", g.cfg.Site+" — waste",
		"Reject fraction p-charts and the capability (Ppl/Ppu) per batch of weights with specification limits.", "waste")
	d.setup(nil)
	panels := 0
	for _, t := range g.cfg.AllTags() {
		det := g.detectorsOf(t)
		spcWhere := func(detector string, extra ...string) string {
			c := append([]string{fSite, fLine, fMachine}, tagFilter(t)...)
			return where(append(append(c, eq(store.TagDetector, detector)), extra...)...)
		}
		if r, ok := det["p_chart"]; ok {
			panels++
			desc := fmt.Sprintf("Reject fraction %s/(%s+%s) per %s subgroup with centre line p̄ and 3σ limits.", r.PChart.RejectTag, r.PChart.GoodTag, r.PChart.RejectTag, r.PChart.SubgroupSpan)
			if r.PChart.Laney {
				desc += " Laney p′ limits (overdispersion corrected)."
			}
			p := d.timeSeries("Reject fraction p-chart: "+t.Line.ID+"/"+t.Machine.ID, desc).
				Unit("percentunit").Decimals(2).Min(0).
				ShowPoints(common.VisibilityModeAlways).PointSize(4).
				WithTarget(d.series("A", "",
					fmt.Sprintf(`SELECT last("p") AS "p", last("p_bar") AS "centre", last("ucl") AS "UCL", last("lcl") AS "LCL" FROM %s %s %s fill(none)`,
						g.m(store.MeasurementSPC), spcWhere("p_chart", timeF), byTime),
					"time", "p", "centre", "UCL", "LCL")).
				OverrideByName("p", []dashboard.DynamicConfigValue{fixedColour("blue")})
			controlLineStyles(p)
			d.b.WithPanel(p)
		}
		// Yield per batch is not a statistic in spc: the yield check reports
		// only a low batch, as an alarm (detector yield), which the alarm
		// annotations and tables show.
		if isCapabilityTag(t) {
			panels++
			lsl, usl := *t.Tag.Spec.LSL, *t.Tag.Spec.USL
			// analytics writes no capability statistics, so they are computed
			// from the stored values: overall σ per batch, i.e. Pp-style indices.
			d.b.WithPanel(d.tablePanel("Capability per batch: "+t.String(),
				fmt.Sprintf("Good-quality values of %s per batch in the dashboard range: mean, overall σ and the one-sided indices Ppl = (mean − LSL)/3σ and Ppu = (USL − mean)/3σ against LSL %s / USL %s. Ppk = (half the tolerance − |mean − its centre|)/3σ, the smaller of the two: below 1.0 makes out-of-specification product, 1.33 is the usual minimum.", t,
					display.Number(lsl, decimalsOf(t.Tag), t.Tag.Unit), display.Number(usl, decimalsOf(t.Tag), t.Tag.Unit))).
				Span(12).
				OverrideByRegexp("Pp[luk]", []dashboard.DynamicConfigValue{
					{Id: "decimals", Value: 2},
					{Id: "thresholds", Value: dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute, Steps: rising(colBad, 1.0, colOOS, 1.33, colGood)}},
					{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}}}).
				OverrideByRegexp("mean|sigma", []dashboard.DynamicConfigValue{unitProp(unitFor(t.Tag.Unit))}).
				WithTarget(d.table("A",
					fmt.Sprintf(`SELECT count(`+qValue+`) AS "n", mean(`+qValue+`) AS "mean", stddev(`+qValue+`) AS "sigma", (mean(`+qValue+`) - %s) / (3 * stddev(`+qValue+`)) AS "Ppl", (%s - mean(`+qValue+`)) / (3 * stddev(`+qValue+`)) AS "Ppu", (%s - abs(mean(`+qValue+`) - %s)) / (3 * stddev(`+qValue+`)) AS "Ppk" FROM %s %s GROUP BY `+qBatchTag,
						num(lsl), num(usl), num((usl-lsl)/2), num((usl+lsl)/2), g.m(store.MeasurementTelemetry), where(append(append([]string{fSite, fLine, fMachine}, tagFilter(t)...), d.batchFilter, fGood, timeF)...)),
					"time", "n", "mean", "sigma", "Ppl", "Ppu", "Ppk")))
		}
	}
	if panels == 0 {
		return nil, nil
	}
	return d, nil
}

// isCapabilityTag selects the weight tags whose capability the waste dashboard
// shows: fill and piece weights with both specification limits.
func isCapabilityTag(t config.TagRef) bool {
	return (t.Tag.Role == "fill_weight" || t.Tag.Role == "weight") && t.Tag.Spec.LSL != nil && t.Tag.Spec.USL != nil
}
