package dashboards

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/store"
)

// goldenBatch adds, for each golden-batch model of line l, a row with each
// monitored variable of the running batch over the good batches' envelope
// and the model's T² and SPE with their limits: the statistics the
// analytics engine writes to spc per maturity slice (detector
// batch_evolution), aligned to the running batch by the engine itself.
func (d *dash) goldenBatch(l *config.Line) {
	g := d.g
	for _, bm := range g.cfg.Analytics.BatchModels {
		if bm.Line != l.ID {
			continue
		}
		d.row("Golden batch: " + bm.Name)
		for _, v := range bm.Tags {
			machine, tag, _ := strings.Cut(v, "/")
			unit := ""
			if t, ok := g.cfg.Tag(l.ID, machine, tag); ok {
				unit = t.Tag.Unit
			}
			title := tag + " over the golden envelope"
			p := d.timeSeries(title, fmt.Sprintf("%s/%s of the running batch (mean per maturity slice) over the good batches' mean ± σ envelope of model %s, aligned by phase and elapsed phase time (docs/analytics.md, golden batch).", l.ID, v, bm.Name)).
				Unit(unitFor(unit)).
				WithTarget(d.series("A", "",
					fmt.Sprintf(`SELECT last("value") AS "batch", last("mean") AS "golden mean", last("lower") AS "lower", last("upper") AS "upper" FROM %s %s %s fill(none)`,
						g.m(store.MeasurementSPC), where(fSite, eq(store.TagLine, l.ID), eq(store.TagMachine, machine), eq(store.TagName, tag),
							eq(store.TagDetector, batchev.DetectorName), timeF), byTime),
					"time", "batch", "golden mean", "lower", "upper")).
				OverrideByName("batch", []dashboard.DynamicConfigValue{fixedColour("blue")}).
				OverrideByName("golden mean", []dashboard.DynamicConfigValue{fixedColour(colGood), dashed()}).
				OverrideByName("lower", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()}).
				OverrideByName("upper", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()})
			d.b.WithPanel(p)
		}
		phaseMachine, _, _ := strings.Cut(bm.PhaseTag, "/")
		stat := func(title, field, desc string) {
			q := fmt.Sprintf(`SELECT last(%q) AS "statistic", last(%q) AS "limit" FROM %s %s %s fill(none)`, field, field+"_limit",
				g.m(store.MeasurementSPC), where(fSite, eq(store.TagLine, l.ID), eq(store.TagMachine, phaseMachine), eq(store.TagName, bm.Name),
					eq(store.TagDetector, batchev.DetectorName), timeF), byTime)
			d.b.WithPanel(d.timeSeries(title, desc).Min(0).
				WithTarget(d.series("A", "", q, "time", "statistic", "limit")).
				OverrideByName("statistic", []dashboard.DynamicConfigValue{fixedColour("blue")}).
				OverrideByName("limit", []dashboard.DynamicConfigValue{fixedColour(colBad), dashed()}))
		}
		stat("Hotelling T²: "+bm.Name, "t2", "T² of the running batch's deviation from the golden mean in the maturity slice's local PCA, with its limit: a combination of variables the good batches never showed.")
		stat("SPE: "+bm.Name, "spe", "Squared prediction error (DModX/Q) of the running batch in the slice's local PCA, with its limit: a correlation between variables the good batches did not have.")
	}
}
