package dashboards

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/store"
)

// DatasourceUID is the uid of the provisioned InfluxDB data source; every
// generated panel refers to it.
const DatasourceUID = "linewatch-influxdb"

// Query is one InfluxQL query of a generated dashboard and the columns the
// panel reads from its result. Tests run every Query against InfluxDB.
type Query struct {
	Dashboard string // dashboard uid
	PanelID   uint32 // 0 for annotations and variables
	Panel     string // panel title, "annotation: NAME" or "variable: NAME"
	RefID     string
	InfluxQL  string
	// Columns the result must have, "time" first when the panel plots time.
	Columns []string
}

// Generated is one dashboard built from the config.
type Generated struct {
	UID, Title string
	// File is the JSON file name inside the dashboards folder.
	File      string
	Dashboard dashboard.Dashboard
	Queries   []Query
}

// Build generates every dashboard for cfg. It does not touch the disk.
func Build(cfg *config.Config, opts Options) ([]Generated, error) {
	if cfg == nil {
		return nil, errors.New("dashboards: no config")
	}
	registerVariants()
	g := &gen{cfg: cfg, opts: opts.withDefaults(cfg), ds: common.DataSourceRef{Type: ptr(DatasourceType), Uid: ptr(DatasourceUID)}}
	g.rp = retentionPolicy(cfg.InfluxDB)
	builders := []func() (*dash, error){g.overview}
	for i := range cfg.Lines {
		l := &cfg.Lines[i]
		builders = append(builders, func() (*dash, error) { return g.line(l) })
	}
	builders = append(builders, g.spc, g.coldChain, g.waste, g.collectorHealth)
	var out []Generated
	var errs []error
	for _, b := range builders {
		d, err := b()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d == nil { // nothing configured for this dashboard
			continue
		}
		model, err := d.b.Build()
		if err != nil {
			errs = append(errs, fmt.Errorf("dashboard %s: %w", d.uid, err))
			continue
		}
		out = append(out, Generated{UID: d.uid, Title: d.title, File: d.uid + ".json", Dashboard: model, Queries: d.queries})
	}
	return out, errors.Join(errs...)
}

// retentionPolicy returns the RP to qualify measurements with, or "" for the
// database default. autogen is left implicit: it is the default on 1.x and a
// qualified name would not resolve on 3.x.
func retentionPolicy(c config.InfluxDB) string {
	rp := c.RetentionPolicy
	if rp == "" && strings.Contains(c.Bucket, "/") {
		rp = c.Bucket[strings.Index(c.Bucket, "/")+1:]
	}
	if rp == "autogen" {
		return ""
	}
	return rp
}

type gen struct {
	cfg  *config.Config
	opts Options
	ds   common.DataSourceRef
	rp   string
}

// m names a measurement, qualified with the retention policy when needed.
func (g *gen) m(name string) string {
	if g.rp == "" {
		return ident(name)
	}
	return ident(g.rp) + "." + ident(name)
}

// dash accumulates one dashboard and the queries of its panels.
type dash struct {
	g          *gen
	uid, title string
	b          *dashboard.DashboardBuilder
	queries    []Query
	nextID     uint32
	panelID    uint32
	panelTitle string
	// batchFilter is fBatch when the dashboard has a batch variable.
	batchFilter string
}

// DefaultTimeRange is the time range every dashboard opens with ("last 6
// hours"); the demo starts its simulated plant that far back so that the
// whole run is in view.
const DefaultTimeRange = 6 * time.Hour

// defaultFrom is DefaultTimeRange as Grafana's relative time ("now-6h").
func defaultFrom() string { return "now-" + strconv.Itoa(int(DefaultTimeRange.Hours())) + "h" }

func (g *gen) newDash(uid, title, description string, tags ...string) *dash {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags(append([]string{"linewatch"}, tags...)).
		Refresh(g.opts.Refresh).
		Time(defaultFrom(), "now").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly().
		Link(dashboard.NewDashboardLinkBuilder("linewatch").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"linewatch"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true))
	return &dash{g: g, uid: uid, title: title, b: b}
}

// row starts an expanded row; the panels added after it belong to it.
// (SDK rows with nested panels are always collapsed: Grafana ignores the
// children of an expanded row.)
func (d *dash) row(title string) {
	d.b.WithRow(dashboard.NewRowBuilder(title).Id(d.panel("row " + title)))
}

// panel starts a panel: the queries created until the next call belong to it.
func (d *dash) panel(title string) uint32 {
	d.nextID++
	d.panelID, d.panelTitle = d.nextID, title
	return d.nextID
}

// target makes a raw InfluxQL target and records what the panel expects.
func (d *dash) target(ref, format, alias, q string, cols ...string) InfluxQuery {
	d.queries = append(d.queries, Query{Dashboard: d.uid, PanelID: d.panelID, Panel: d.panelTitle, RefID: ref, InfluxQL: q, Columns: cols})
	return InfluxQuery{RefID: ref, Datasource: &d.g.ds, Query: q, RawQuery: true, ResultFormat: format, Alias: alias}
}

func (d *dash) series(ref, alias, q string, cols ...string) InfluxQuery {
	return d.target(ref, "time_series", alias, q, cols...)
}

func (d *dash) table(ref, q string, cols ...string) InfluxQuery {
	return d.target(ref, "table", "", q, cols...)
}

// hasBatches tells whether line l (any line when nil) records batches.
func (g *gen) hasBatches(l *config.Line) bool {
	for i := range g.cfg.Lines {
		if (l == nil || l == &g.cfg.Lines[i]) && g.cfg.Lines[i].BatchTag != "" {
			return true
		}
	}
	return false
}

// canAlarm tells whether any tag of line l (any line when nil) has alarm
// limits or analytics, the sources of alarms.
func (g *gen) canAlarm(l *config.Line) bool {
	for _, t := range g.cfg.AllTags() {
		if l != nil && t.Line != l {
			continue
		}
		lim := t.Tag.Limits
		if lim.LoLo != nil || lim.Lo != nil || lim.Hi != nil || lim.HiHi != nil || len(g.detectorsOf(t)) > 0 || g.inRule(t) {
			return true
		}
	}
	for _, m := range g.cfg.Analytics.Models {
		if l == nil || m.Line == l.ID {
			return true
		}
	}
	return false
}

// inRule tells whether any analytics rule selects the tag.
func (g *gen) inRule(t config.TagRef) bool {
	for _, r := range g.cfg.Analytics.Rules {
		for _, p := range r.Tags {
			for _, m := range g.cfg.MatchTags(p) {
				if m.Tag == t.Tag {
					return true
				}
			}
		}
	}
	return false
}

// setup adds the template variables and annotations of a dashboard about
// line l, or about the whole plant when l is nil. Variables and annotations
// that could only ever be empty (batches of a line without a batch tag,
// alarms of a line without limits or analytics) are left out.
func (d *dash) setup(l *config.Line) {
	fixed := ""
	if l != nil {
		fixed = l.ID
	}
	batches := d.g.hasBatches(l)
	if batches {
		d.batchFilter = fBatch
	}
	d.variables(fixed, batches)
	if d.g.canAlarm(l) {
		d.alarmAnnotations()
	}
	if batches {
		d.batchAnnotations()
	}
}

// Template variables. allValue ".*" keeps series with an empty tag (telemetry
// outside any batch) when "All" is selected.
func (d *dash) variables(fixedLine string, batches bool) {
	g := d.g
	show := func(key string, conds ...string) string {
		q := fmt.Sprintf("SHOW TAG VALUES FROM %s WITH KEY = %s", g.m(store.MeasurementTelemetry), ident(key))
		if len(conds) > 0 {
			q += " " + where(conds...)
		}
		return q
	}
	d.variable("site", "Site", show(store.TagSite), dashboard.VariableRefreshOnDashboardLoad, "key", "value")
	if fixedLine != "" {
		d.b.WithVariable(dashboard.NewConstantVariableBuilder("line").Value(dashboard.StringOrMap{String: ptr(fixedLine)}))
	} else {
		d.variable("line", "Line", show(store.TagLine, fSite), dashboard.VariableRefreshOnDashboardLoad, "key", "value")
	}
	d.variable("machine", "Machine", show(store.TagMachine, fSite, fLine), dashboard.VariableRefreshOnDashboardLoad, "key", "value")
	if !batches {
		return
	}
	d.variable("batch", "Batch",
		fmt.Sprintf(`SELECT DISTINCT(%s) FROM %s %s`, ident(store.FieldBatch), g.m(store.MeasurementBatches), where(fSite, fLine, timeF)),
		dashboard.VariableRefreshOnTimeRangeChanged, "time", "distinct")
}

func (d *dash) variable(name, label, q string, refresh dashboard.VariableRefresh, cols ...string) {
	d.queries = append(d.queries, Query{Dashboard: d.uid, Panel: "variable: " + name, RefID: name, InfluxQL: q, Columns: cols})
	d.b.WithVariable(dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(d.g.ds).
		Query(dashboard.StringOrMap{String: ptr(q)}).
		Definition(q).
		Refresh(refresh).
		Sort(dashboard.VariableSortNaturalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		// Only values InfluxDB lists: a typed value would be interpolated into InfluxQL.
		AllowCustomValue(false).
		Current(dashboard.VariableOption{
			Selected: ptr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		}))
}

// annotatedEvents are the alarm transitions marked on time panels: when
// an alarm started, was acknowledged and cleared. Shelving, suppression
// and comments are in the alarm tables, not on every chart (issue 18: 16
// of 38 markers in 9 minutes were suppress/unsuppress).
var annotatedEvents = []string{"activate", "ack", "clear"}

// alarmPriorities are the alarm priorities, most urgent first, with the
// colour of their markers (Grafana's named colours).
var alarmPriorities = []struct{ name, colour string }{
	{"urgent", "dark-red"}, {"high", "red"}, {"medium", "orange"}, {"low", "yellow"},
}

// alarmAnnotations marks alarm activations, acknowledgements and clears
// on every time panel, one annotation per priority in its colour (each
// can be switched off), filtered by the dashboard's site, line and
// machine variables.
func (d *dash) alarmAnnotations() {
	g := d.g
	for _, p := range alarmPriorities {
		d.annotation("Alarms: "+p.name, p.colour, InfluxQuery{
			TextColumn: "message", TagsColumn: "priority,event,machine,tag_name",
			Query: fmt.Sprintf(`SELECT %s, %s, %s::tag, %s::tag, %s::tag, %s::tag FROM %s %s`,
				ident(store.FieldMessage), ident(store.FieldState), ident(store.TagPriority), ident(store.TagEvent), ident(store.TagMachine), ident(store.TagName),
				g.m(store.MeasurementAlarms), where(fSite, fLine, fMachine, eq(store.TagPriority, p.name), oneOf(store.TagEvent, annotatedEvents), timeF)),
		}, "time", "message", "state", "priority", "event", "machine", "tag_name")
	}
}

// batchAnnotations marks batch start and end on every time panel.
func (d *dash) batchAnnotations() {
	g := d.g
	d.annotation("Batches", "blue", InfluxQuery{
		TextColumn: "batch", TagsColumn: "event,product",
		Query: fmt.Sprintf(`SELECT %s, %s, %s FROM %s %s`, ident(store.FieldBatch), ident(store.FieldEvent), ident(store.FieldProduct), g.m(store.MeasurementBatches), where(fSite, fLine, timeF)),
	}, "time", "batch", "event", "product")
}

func (d *dash) annotation(name, colour string, q InfluxQuery, cols ...string) {
	q.RefID, q.Datasource, q.RawQuery, q.ResultFormat = "Anno", &d.g.ds, true, "table"
	q.QueryType, q.FromAnnotations = "tags", true
	d.queries = append(d.queries, Query{Dashboard: d.uid, Panel: "annotation: " + name, RefID: q.RefID, InfluxQL: q.Query, Columns: cols})
	d.b.Annotation(dashboard.NewAnnotationQueryBuilder().
		Name(name).
		Datasource(d.g.ds).
		Enable(true).
		IconColor(colour).
		Target(q))
}

// tagFilter selects exactly one configured tag.
func tagFilter(t config.TagRef) []string {
	return []string{eq(store.TagLine, t.Line.ID), eq(store.TagMachine, t.Machine.ID), eq(store.TagName, t.Tag.Name)}
}

// detNelson is the detector tag analytics writes for a config shewhart
// rule (individuals chart with Nelson rules); the other detectors keep
// their config name.
const detNelson = "nelson"

// detectorsOf lists the analytics detectors configured for a tag, keyed by
// the detector tag they write, with the rule that configures each (the
// first rule wins).
func (g *gen) detectorsOf(t config.TagRef) map[string]*config.Rule {
	out := map[string]*config.Rule{}
	for i := range g.cfg.Analytics.Rules {
		r := &g.cfg.Analytics.Rules[i]
		matched := false
		for _, p := range r.Tags {
			for _, m := range g.cfg.MatchTags(p) {
				if m.Tag == t.Tag {
					matched = true
				}
			}
		}
		if !matched {
			continue
		}
		set := func(name string, on bool) {
			if _, seen := out[name]; on && !seen {
				out[name] = r
			}
		}
		set(detNelson, r.Shewhart != nil)
		set("ewma", r.EWMA != nil)
		set("cusum", r.CUSUM != nil)
		set("mkt", r.MKT != nil)
		set("tor", r.TOR != nil)
		set("p_chart", r.PChart != nil)
		set("yield", r.Yield != nil)
	}
	return out
}

// tagNamesWithRole lists the distinct tag names that have one of roles.
func (g *gen) tagNamesWithRole(roles ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range g.cfg.AllTags() {
		for _, r := range roles {
			if t.Tag.Role == r && !seen[t.Tag.Name] {
				seen[t.Tag.Name] = true
				out = append(out, t.Tag.Name)
			}
		}
	}
	return out
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}
