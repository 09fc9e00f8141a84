package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/gauge"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Shared panel styles so every dashboard looks and reads the same.

func (d *dash) timeSeries(title, description string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(d.panel(title)).
		Title(title).
		Description(description).
		Datasource(d.g.ds).
		Span(12).Height(8).
		LineWidth(1).
		FillOpacity(0).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: ptr(false)}).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone))
}

func (d *dash) stateTimeline(title, description string) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Id(d.panel(title)).
		Title(title).
		Description(description).
		Datasource(d.g.ds).
		Span(12).Height(6).
		ShowValue(common.VisibilityModeAuto).
		MergeValues(true).
		FillOpacity(80).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(false).DisplayMode(common.LegendDisplayModeHidden).Placement(common.LegendPlacementBottom))
}

func (d *dash) stat(title, description string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Id(d.panel(title)).
		Title(title).
		Description(description).
		Datasource(d.g.ds).
		Span(6).Height(6).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeBackground).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

func (d *dash) gauge(title, description string) *gauge.PanelBuilder {
	return gauge.NewPanelBuilder().
		Id(d.panel(title)).
		Title(title).
		Description(description).
		Datasource(d.g.ds).
		Span(6).Height(8).
		ShowThresholdMarkers(true).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

func (d *dash) tablePanel(title, description string) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Id(d.panel(title)).
		Title(title).
		Description(description).
		Datasource(d.g.ds).
		Span(12).Height(8).
		ShowHeader(true).
		Filterable(true).
		// The SDK's default footer has a null reducer, which its own strict
		// unmarshal (and Grafana's schema) reject.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false))
}

// Field override properties.

func fixedColour(c string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": c}}
}

func dashed() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}}
}

func unitProp(u string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "unit", Value: u}
}

func drawBars() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "custom.drawStyle", Value: "bars"}
}

func mappingsProp(m []dashboard.ValueMapping) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "mappings", Value: m}
}

// valueMap maps exact values to display text and colour.
func valueMap(pairs ...string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i := 0; i+2 < len(pairs)+1; i += 3 {
		opts[pairs[i]] = dashboard.ValueMappingResult{Text: ptr(pairs[i+1]), Color: ptr(pairs[i+2]), Index: ptr(int32(i / 3))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// Common mappings.
var (
	boolDoor    = valueMap("0", "closed", colGood, "1", "open", colWarn)
	boolRunning = valueMap("0", "stopped", colNeutral, "1", "running", colGood)
	connected   = valueMap("0", "disconnected", colBad, "1", "connected", colGood)
	// Machine states as the simulator and PackML-like PLCs name them; other
	// states keep the neutral colour.
	machineStates = valueMap(
		"running", "running", colGood, "producing", "producing", colGood, "execute", "execute", colGood,
		"idle", "idle", "blue", "standby", "standby", "blue", "stopped", "stopped", colNeutral,
		"setup", "setup", "purple", "cleaning", "cleaning", "purple", "changeover", "changeover", "purple",
		"starting", "starting", "light-green", "stopping", "stopping", "light-yellow",
		"held", "held", colWarn, "paused", "paused", colWarn, "blocked", "blocked", colWarn, "starved", "starved", colWarn,
		"fault", "fault", colBad, "aborted", "aborted", colBad, "alarm", "alarm", colBad, "error", "error", colBad)
	priorityColours = map[string]string{"urgent": "dark-red", "high": colBad, "medium": colOOS, "low": colWarn}
)
