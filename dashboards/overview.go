package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/store"
)

// alarmKey is what identifies one alarm in the alarms measurement: its
// series without the event tag, which changes with every transition.
var alarmKey = []string{store.TagLine, store.TagMachine, store.TagName, store.TagDetector, store.TagPriority}

func (g *gen) overview() (*dash, error) {
	d := g.newDash("lw-overview", g.cfg.Site+" — plant overview",
		"Line states, active alarms, good and reject rates and the batch in progress on every line.", "overview")
	d.setup(nil)

	if states := g.tagNamesWithRole("machine_state"); len(states) > 0 {
		d.b.WithPanel(d.stateTimeline("Line states", "Machine state tags (role machine_state) of every line, last value per interval.").
			Span(24).Height(7).
			Mappings(machineStates).
			WithTarget(d.series("A", "$tag_line / $tag_machine",
				fmt.Sprintf(`SELECT last(`+qText+`) AS "state" FROM %s %s %s, `+qLine+`, `+qMachine+` fill(none)`,
					g.m(store.MeasurementTelemetry), where(fSite, fLine, fMachine, oneOf(store.TagName, states), timeF), byTime),
				"time", "state")))
	}

	active := d.stat("Active alarms by priority",
		"Alarms whose last transition (within 30 days) left them active, counted per priority.").
		Span(8).Height(6).
		Unit("none").Decimals(0).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds(rising(colGood, 1.0, colOOS))).
		WithTarget(d.series("A", "$tag_priority",
			fmt.Sprintf(`SELECT sum(`+qActive+`) AS "active" FROM (SELECT last(`+qActive+`) AS "active" FROM %s %s %s) %s`,
				g.m(store.MeasurementAlarms), where(fSite, fLine, fMachine, lookback), groupBy(alarmKey...), groupBy(store.TagPriority)),
			"time", "active"))
	for _, p := range config.Priorities {
		active.OverrideByName(p, []dashboard.DynamicConfigValue{{Id: "thresholds", Value: dashboard.ThresholdsConfig{
			Mode: dashboard.ThresholdsModeAbsolute, Steps: rising(colGood, 1.0, priorityColours[p])}}})
	}
	d.b.WithPanel(active)

	d.b.WithPanel(d.tablePanel("Active alarms", "Every alarm that is active now, newest state first.").
		Span(16).Height(6).
		WithTarget(d.table("A",
			fmt.Sprintf(`SELECT "state", "message", "value", "limit", "alarm_id" FROM (SELECT last(`+qActive+`) AS "active", last(`+qState+`) AS "state", last(`+qMessage+`) AS "message", last(`+qValue+`) AS "value", last(`+qLimit+`) AS "limit", last(`+qAlarmID+`) AS "alarm_id" FROM %s %s %s) WHERE "active" = 1 %s`,
				g.m(store.MeasurementAlarms), where(fSite, fLine, fMachine, lookback), groupBy(alarmKey...), groupBy(alarmKey...)),
			"time", "state", "message", "value", "limit", "alarm_id")))

	good, reject := g.tagNamesWithRole("good_count"), g.tagNamesWithRole("reject_count")
	if len(good)+len(reject) > 0 {
		p := d.timeSeries("Good and reject rate per line", "Rate of the good and reject counters (roles good_count, reject_count) per minute; good-quality samples only.").
			Unit("cpm").Decimals(1).Min(0)
		if len(good) > 0 {
			p.WithTarget(d.series("A", "good $tag_line / $tag_machine / $tag_tag_name", rateQuery(g, good), "time", "rate"))
		}
		if len(reject) > 0 {
			p.WithTarget(d.series("B", "rejects $tag_line / $tag_machine / $tag_tag_name", rateQuery(g, reject), "time", "rate")).
				OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "custom.axisPlacement", Value: "right"}, dashed()})
		}
		d.b.WithPanel(p)
	}

	d.b.WithPanel(d.tablePanel("Current batch per line", "Last batch event per line within 30 days: a batch whose last event is start is in progress.").
		Span(12).
		OverrideByName("event", []dashboard.DynamicConfigValue{mappingsProp(valueMap("start", "in progress", colGood, "end", "ended", colNeutral)),
			{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}}}).
		WithTarget(d.table("A",
			fmt.Sprintf(`SELECT last(%s) AS "batch", last(%s) AS "product", last(%s) AS "event" FROM %s %s %s`,
				ident(store.FieldBatch), ident(store.FieldProduct), ident(store.FieldEvent), g.m(store.MeasurementBatches), where(fSite, fLine, lookback), groupBy(store.TagLine)),
			"time", "batch", "product", "event")))

	d.b.WithPanel(d.stat("Collectors connected", "Last reported OPC UA connection state per machine.").
		Span(12).Height(8).
		TextMode(common.BigValueTextModeValueAndName).
		Mappings(connected).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds(rising(colBad, 1.0, colGood))).
		WithTarget(d.series("A", "$tag_line / $tag_machine",
			fmt.Sprintf(`SELECT last("connected") AS "connected" FROM %s %s %s`,
				g.m(store.MeasurementStatus), where(fSite, fLine, fMachine, lookback), groupBy(store.TagLine, store.TagMachine)),
			"time", "connected")))
	return d, nil
}

func rateQuery(g *gen, tags []string) string {
	return fmt.Sprintf(`SELECT non_negative_derivative(max(`+qValue+`), 1m) AS "rate" FROM %s %s %s fill(none)`,
		g.m(store.MeasurementTelemetry), where(fSite, fLine, fMachine, oneOf(store.TagName, tags), fGood, timeF), byTimeAnd(store.TagLine, store.TagMachine, store.TagName))
}
