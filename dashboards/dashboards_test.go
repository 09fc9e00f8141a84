package dashboards_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/dashboards"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func demoConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatalf("demo config: %v", err)
	}
	return cfg
}

// generated writes the demo provisioning and returns it with the Build
// metadata (which columns each query must return).
func generated(t *testing.T) (dir string, gens []dashboards.Generated) {
	t.Helper()
	cfg := demoConfig(t)
	dir = t.TempDir()
	if err := dashboards.Generate(cfg, dir); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	gens, err := dashboards.Build(cfg, dashboards.Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return dir, gens
}

func readDashboard(t *testing.T, dir, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, dashboards.DashboardsDir, file))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestGenerateWritesEveryDashboard(t *testing.T) {
	dir, gens := generated(t)
	want := []string{"lw-coldchain", "lw-collector", "lw-line-coldroom1", "lw-line-filling1", "lw-line-lyo1", "lw-line-tableting1", "lw-overview", "lw-spc", "lw-waste"}
	var got []string
	for _, g := range gens {
		got = append(got, g.UID)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("dashboards %v, want %v", got, want)
	}
	files, _ := filepath.Glob(filepath.Join(dir, dashboards.DashboardsDir, "*.json"))
	if len(files) != len(want) {
		t.Fatalf("%d dashboard files, want %d: %v", len(files), len(want), files)
	}
}

// Each file round-trips through the SDK's strict unmarshal and back to the
// same JSON: nothing the SDK does not know, nothing lost.
func TestDashboardsRoundTripStrict(t *testing.T) {
	dir, gens := generated(t)
	for _, g := range gens {
		raw := readDashboard(t, dir, g.File)
		d, err := dashboards.Decode(raw)
		if err != nil {
			t.Errorf("%s: %v", g.File, err)
			continue
		}
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("%s: re-encode: %v", g.File, err)
		}
		var a, b any
		json.Unmarshal(raw, &a)
		json.Unmarshal(again, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: JSON changed in the round trip through the SDK model", g.File)
		}
		if d.Uid == nil || *d.Uid != g.UID || len(d.Panels) == 0 {
			t.Errorf("%s: decoded uid %v with %d panels", g.File, d.Uid, len(d.Panels))
		}
	}
}

// The strict decode must fail on what Grafana's schema does not allow, and
// succeed (err == nil, not a typed-nil error list) on valid input.
func TestDecodeStrictness(t *testing.T) {
	dir, gens := generated(t)
	raw := readDashboard(t, dir, gens[0].File)
	if _, err := dashboards.Decode(raw); err != nil {
		t.Fatalf("valid dashboard: err = %#v, want nil", err)
	}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	firstPanel := func(m map[string]any) map[string]any {
		for _, p := range m["panels"].([]any) {
			if pm := p.(map[string]any); pm["type"] != "row" {
				return pm
			}
		}
		t.Fatal("no panel")
		return nil
	}
	cases := map[string][]byte{
		"unknown top-level field": mutate(func(m map[string]any) { m["colour"] = "red" }),
		"missing schemaVersion":   mutate(func(m map[string]any) { delete(m, "schemaVersion") }),
		"mistyped title":          mutate(func(m map[string]any) { m["title"] = 42 }),
		"unknown panel option":    mutate(func(m map[string]any) { firstPanel(m)["options"].(map[string]any)["sparkles"] = true }),
		"unknown target field": mutate(func(m map[string]any) {
			firstPanel(m)["targets"].([]any)[0].(map[string]any)["measurement"] = "telemetry"
		}),
		"target without query": mutate(func(m map[string]any) {
			delete(firstPanel(m)["targets"].([]any)[0].(map[string]any), "query")
		}),
		"not JSON": []byte(`{"title": `),
	}
	for name, in := range cases {
		if _, err := dashboards.Decode(in); err == nil {
			t.Errorf("%s: Decode accepted it", name)
		}
	}
}

// collectQueries walks dashboard JSON the way Grafana reads it and returns
// every InfluxQL it would run, keyed like queryKey.
func collectQueries(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	var m struct {
		UID    string            `json:"uid"`
		Panels []json.RawMessage `json:"panels"`
		Annos  struct {
			List []struct {
				Name   string `json:"name"`
				Target struct {
					RefID string `json:"refId"`
					Query string `json:"query"`
				} `json:"target"`
			} `json:"list"`
		} `json:"annotations"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var panels func([]json.RawMessage)
	panels = func(ps []json.RawMessage) {
		for _, p := range ps {
			var pm struct {
				ID      uint32            `json:"id"`
				Panels  []json.RawMessage `json:"panels"`
				Targets []struct {
					RefID string `json:"refId"`
					Query string `json:"query"`
				} `json:"targets"`
			}
			if err := json.Unmarshal(p, &pm); err != nil {
				t.Fatal(err)
			}
			for _, tg := range pm.Targets {
				out[queryKey(m.UID, pm.ID, "", tg.RefID)] = tg.Query
			}
			panels(pm.Panels)
		}
	}
	panels(m.Panels)
	for _, a := range m.Annos.List {
		out[queryKey(m.UID, 0, "annotation: "+a.Name, a.Target.RefID)] = a.Target.Query
	}
	for _, v := range m.Templating.List {
		if v.Type == "query" {
			out[queryKey(m.UID, 0, "variable: "+v.Name, v.Name)] = v.Query.(string)
		}
	}
	return out
}

func queryKey(uid string, panelID uint32, name, ref string) string {
	if panelID != 0 {
		name = ""
	}
	return strings.Join([]string{uid, strconv.FormatUint(uint64(panelID), 10), name, ref}, "|")
}

func constantsOf(t *testing.T, raw []byte) map[string]string {
	var m struct {
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range m.Templating.List {
		if v.Type == "constant" {
			out[v.Name] = v.Query.(string)
		}
	}
	return out
}

// Every panel, annotation and variable query of every dashboard runs, as
// Grafana would send it, on a real InfluxDB holding real linewatch output
// (runPipeline), and returns at least one row with the columns the panel
// reads.
func TestQueriesReturnRowsOnPipelineOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline against the simulator and InfluxDB")
	}
	cfg := pipelineConfig(t)
	dir := t.TempDir()
	gens, err := dashboards.GenerateWith(cfg, dir, dashboards.Options{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	db := testenv.Influx(t)
	data := runPipeline(t, pipelineConfig(t), db)

	total := 0
	for _, g := range gens {
		raw := readDashboard(t, dir, g.File)
		inFile := collectQueries(t, raw)
		constants := constantsOf(t, raw)
		expect := map[string]dashboards.Query{}
		for _, q := range g.Queries {
			k := queryKey(q.Dashboard, q.PanelID, q.Panel, q.RefID)
			if _, dup := expect[k]; dup {
				t.Errorf("%s: two queries with key %s", g.UID, k)
			}
			expect[k] = q
		}
		if len(inFile) != len(expect) {
			t.Errorf("%s: %d queries in the file, %d known to Build", g.UID, len(inFile), len(expect))
		}
		selections := []selection{
			{}, // everything at All
			{"site": {cfg.Site}},
		}
		if line, ok := constants["line"]; ok && data.CurrentBatch[line] != "" {
			selections = append(selections, selection{"site": {cfg.Site}, "batch": {data.CurrentBatch[line]}})
		}
		if g.UID == "lw-overview" {
			selections = append(selections, selection{"site": {cfg.Site}, "line": {"filling1", "coldroom1"}})
		}
		// Alarm annotations are one layer per priority: a layer is empty
		// while no alarm of its priority happened, but together they must
		// show rows on every dashboard that has them.
		alarmLayers, alarmRows := false, 0
		for k, q := range inFile {
			e, ok := expect[k]
			if !ok {
				t.Errorf("%s: query %s is in the file but not in Build's list", g.UID, k)
				continue
			}
			if e.InfluxQL != q {
				t.Errorf("%s %s: file has %q, Build says %q", g.UID, k, q, e.InfluxQL)
			}
			for _, sel := range selections {
				total++
				rq := render(q, sel, constants, data.From, data.To, "10s")
				series, err := influxQuery(t, db, rq)
				if err != nil {
					t.Errorf("%s / %s %s (selection %v):\n%s\n→ %v", g.Title, e.Panel, e.RefID, sel, rq, err)
					continue
				}
				rows := 0
				// A column whose field linewatch does not write is all null.
				filled := make([]bool, len(e.Columns))
				for _, s := range series {
					rows += len(s.Values)
					if !slices.Equal(s.Columns, e.Columns) {
						t.Errorf("%s / %s %s: columns %v, want %v\n%s", g.Title, e.Panel, e.RefID, s.Columns, e.Columns, rq)
						break
					}
					for _, row := range s.Values {
						for i, v := range row {
							filled[i] = filled[i] || v != nil
						}
					}
				}
				if strings.HasPrefix(e.Panel, "annotation: Alarms: ") {
					alarmLayers, alarmRows = true, alarmRows+rows
					if rows == 0 {
						continue
					}
				}
				if rows == 0 {
					t.Errorf("%s / %s %s (selection %v): no rows on the pipeline output\n%s", g.Title, e.Panel, e.RefID, sel, rq)
					continue
				}
				for i, ok := range filled {
					if !ok {
						t.Errorf("%s / %s %s (selection %v): column %s is null in every row\n%s", g.Title, e.Panel, e.RefID, sel, e.Columns[i], rq)
					}
				}
			}
		}
		if alarmLayers && alarmRows == 0 {
			t.Errorf("%s: no alarm annotation layer shows a row on the pipeline output", g.Title)
		}
	}
	t.Logf("%d queries run", total)
}

func demoConfigF() (*config.Config, error) { return config.Demo() }
