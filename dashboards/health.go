package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/linewatch/linewatch/store"
)

// collectorHealth builds the dashboard of the collectors themselves: OPC UA
// connection per machine (collector_status), and from collector_metrics,
// which the linewatch process writes per site every 10 s, read latency,
// reconnects, bad-quality share, skipped poll ticks, NATS publish errors
// and the spool. collector_metrics has no line or machine tag: those
// panels follow the site variable only.
func (g *gen) collectorHealth() (*dash, error) {
	d := g.newDash("lw-collector", g.cfg.Site+" — collector health",
		"OPC UA connection state per machine; read latency, reconnects, bad-quality share, skipped poll ticks, NATS publish errors and the on-disk spool of the linewatch process.", "collector")
	d.setup(nil)
	mw := where(fSite, timeF)
	metrics := g.m(store.MeasurementMetrics)
	counter := func(title, description, field, alias string) {
		d.b.WithPanel(d.timeSeries(title, description).
			Unit("none").Decimals(0).Min(0).
			DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).
			WithTarget(d.series("A", "$tag_site",
				fmt.Sprintf(`SELECT non_negative_difference(max(%s)) AS %s FROM %s %s %s fill(none)`,
					ident(field), ident(alias), metrics, mw, byTimeAnd(store.TagSite)),
				"time", alias)))
	}

	d.b.WithPanel(d.stateTimeline("Connection", "OPC UA session state per machine.").
		Span(24).Height(5).
		Mappings(connected).
		WithTarget(d.series("A", "$tag_line / $tag_machine",
			fmt.Sprintf(`SELECT last(%s) AS "connected" FROM %s %s %s fill(none)`,
				ident(store.FieldConnected), g.m(store.MeasurementStatus), where(fSite, fLine, fMachine, timeF), byTimeAnd(store.TagLine, store.TagMachine)),
			"time", "connected")))
	d.b.WithPanel(d.timeSeries("Read latency", "OPC UA Read round trip, mean over each 10 s report (mean and worst report per interval).").
		Unit("ms").Decimals(1).Min(0).
		Thresholds(thresholds(rising(colGood, 500.0, colWarn, 2000.0, colBad))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		WithTarget(d.series("A", "$tag_site $col",
			fmt.Sprintf(`SELECT mean(%[1]s) AS "mean", max(%[1]s) AS "max" FROM %[2]s %[3]s %[4]s fill(none)`,
				ident(store.FieldReadLatencyMS), metrics, mw, byTimeAnd(store.TagSite)),
			"time", "mean", "max")).
		OverrideByRegexp(".* max", []dashboard.DynamicConfigValue{dashed()}))
	counter("Reconnects", "OPC UA reconnects per interval.", store.FieldReconnects, "reconnects")
	d.b.WithPanel(d.timeSeries("Bad-quality share", "Share of values read with a bad or uncertain OPC UA status. They are stored with their status code but not drawn in the trends and ignored by analytics.").
		Unit("percentunit").Decimals(2).Min(0).
		Thresholds(thresholds(rising(colGood, 0.01, colWarn, 0.05, colBad))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		WithTarget(d.series("A", "$tag_site",
			fmt.Sprintf(`SELECT "bad" / "total" AS "bad_share" FROM (SELECT non_negative_difference(max(%s)) AS "bad", non_negative_difference(max(%s)) AS "total" FROM %s %s %s) WHERE "total" > 0 %s`,
				ident(store.FieldBadValues), ident(store.FieldValuesRead), metrics, mw, byTimeAnd(store.TagSite), groupBy(store.TagSite)),
			"time", "bad_share")))
	d.b.WithPanel(d.timeSeries("Spool size", "Bytes waiting in the on-disk spool while InfluxDB is unreachable; should be 0.").
		Unit("bytes").Decimals(0).Min(0).
		WithTarget(d.series("A", "$tag_site",
			fmt.Sprintf(`SELECT last(%s) AS "spool" FROM %s %s %s fill(none)`, ident(store.FieldSpoolBytes), metrics, mw, byTimeAnd(store.TagSite)),
			"time", "spool")))
	counter("Skipped poll ticks", "Poll intervals skipped because the previous Read had not finished: the poll interval is too short for the server.", store.FieldSkippedTicks, "skipped")
	counter("NATS publish errors", "Telemetry batches the collector could not publish to JetStream (analytics and alarms miss them; InfluxDB still has them).", store.FieldPublishErrors, "errors")
	return d, nil
}
