package dashboards_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/dashboards"
)

type panelJSON struct {
	ID          uint32 `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	FieldConfig struct {
		Defaults struct {
			Unit       string `json:"unit"`
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
					Color string   `json:"color"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Query string `json:"query"`
	} `json:"targets"`
}

func panelsOf(t *testing.T, raw []byte) []panelJSON {
	t.Helper()
	var d struct {
		Panels []panelJSON `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d.Panels
}

func stepValues(p panelJSON) []float64 {
	var v []float64
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value != nil {
			v = append(v, *s.Value)
		}
	}
	return v
}

// The per-line dashboard has one panel per configured tag; a numeric tag's
// thresholds are exactly its alarm and specification limits.
func TestLineDashboardHasOnePanelPerTagWithLimits(t *testing.T) {
	dir, _ := generated(t)
	cfg := demoConfig(t)
	for _, l := range cfg.Lines {
		raw := readDashboard(t, dir, "lw-line-"+l.ID+".json")
		panels := panelsOf(t, raw)
		for _, m := range l.Machines {
			for _, tg := range m.Tags {
				sel := fmt.Sprintf(`"line" = '%s' AND "machine" = '%s' AND "tag_name" = '%s'`, l.ID, m.ID, tg.Name)
				var found []panelJSON
				for _, p := range panels {
					for _, q := range p.Targets {
						if strings.Contains(q.Query, sel) {
							found = append(found, p)
							break
						}
					}
				}
				if len(found) != 1 {
					t.Errorf("%s/%s/%s: %d panels, want 1", l.ID, m.ID, tg.Name, len(found))
					continue
				}
				p := found[0]
				var want []float64
				for _, v := range []*float64{tg.Limits.LoLo, tg.Limits.Lo, tg.Limits.Hi, tg.Limits.HiHi, tg.Spec.LSL, tg.Spec.USL} {
					if v != nil && !slices.Contains(want, *v) {
						want = append(want, *v)
					}
				}
				sort.Float64s(want)
				if got := stepValues(p); !slices.Equal(got, want) {
					t.Errorf("%s/%s/%s: thresholds %v, want the config limits %v", l.ID, m.ID, tg.Name, got, want)
				}
				wantType := "timeseries"
				if tg.Unit == "" && tg.Role != "speed" {
					wantType = "state-timeline"
				}
				if p.Type != wantType {
					t.Errorf("%s/%s/%s: panel type %s, want %s", l.ID, m.ID, tg.Name, p.Type, wantType)
				}
			}
		}
	}
	// Spot check of the colours: fill weight (lolo 1.94, lsl 1.95, lo 1.96,
	// hi 2.04, usl 2.05, hihi 2.06).
	raw := readDashboard(t, dir, "lw-line-filling1.json")
	for _, p := range panelsOf(t, raw) {
		if !strings.HasPrefix(p.Title, "fill_weight") {
			continue
		}
		var colours []string
		for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
			colours = append(colours, s.Color)
		}
		want := []string{"red", "orange", "yellow", "green", "yellow", "orange", "red"}
		if !slices.Equal(colours, want) {
			t.Errorf("fill_weight colours %v, want %v", colours, want)
		}
		if p.FieldConfig.Defaults.Unit != "massg" {
			t.Errorf("fill_weight unit %q, want massg", p.FieldConfig.Defaults.Unit)
		}
	}
}

// The cold chain temperature panel shows the 2–8 °C band.
func TestColdChainHasStorageBand(t *testing.T) {
	dir, _ := generated(t)
	raw := readDashboard(t, dir, "lw-coldchain.json")
	n := 0
	for _, p := range panelsOf(t, raw) {
		if p.Title != "Temperature" {
			continue
		}
		n++
		steps := p.FieldConfig.Defaults.Thresholds.Steps
		if len(steps) != 3 || steps[0].Value != nil || *steps[1].Value != 2 || *steps[2].Value != 8 ||
			steps[0].Color != "blue" || steps[1].Color != "green" || steps[2].Color != "red" {
			b, _ := json.Marshal(steps)
			t.Errorf("temperature thresholds %s, want blue | 2 green | 8 red", b)
		}
		if p.FieldConfig.Defaults.Unit != "celsius" {
			t.Errorf("unit %q, want celsius", p.FieldConfig.Defaults.Unit)
		}
		if len(p.Targets) != 2 {
			t.Errorf("%d temperature targets, want both probes", len(p.Targets))
		}
	}
	if n != 1 {
		t.Fatalf("%d temperature panels, want 1", n)
	}
}

var usedVar = regexp.MustCompile(`\$(\w+)`)

// Every variable a query uses is defined on its dashboard, so Grafana never
// sends a literal "$batch" to InfluxDB.
func TestQueriesUseOnlyDefinedVariables(t *testing.T) {
	dir, gens := generated(t)
	builtin := map[string]bool{"timeFilter": true, "__interval": true}
	for _, g := range gens {
		raw := readDashboard(t, dir, g.File)
		var d struct {
			Templating struct {
				List []struct {
					Name string `json:"name"`
				} `json:"list"`
			} `json:"templating"`
		}
		json.Unmarshal(raw, &d)
		defined := map[string]bool{}
		for _, v := range d.Templating.List {
			defined[v.Name] = true
		}
		for k, q := range collectQueries(t, raw) {
			for _, m := range usedVar.FindAllStringSubmatch(q, -1) {
				if !builtin[m[1]] && !defined[m[1]] {
					t.Errorf("%s %s uses $%s, which the dashboard does not define: %s", g.UID, k, m[1], q)
				}
			}
		}
	}
}

func TestUnitsAndDecimalsFromConfig(t *testing.T) {
	cfg := demoConfig(t)
	gens, err := dashboards.Build(cfg, dashboards.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"°C": "celsius", "%RH": "humidity", "g": "massg", "mg": "massmg", "N": "forceN", "kN": "forcekN", "mm": "lengthmm", "rpm": "rotrpm", "µbar": "suffix: µbar", "vials/min": "suffix: vials/min", "count": "none"}
	seen := map[string]bool{}
	for _, g := range gens {
		if !strings.HasPrefix(g.UID, "lw-line-") {
			continue
		}
		raw, _ := json.Marshal(g.Dashboard)
		for _, p := range panelsOf(t, raw) {
			for _, tr := range cfg.AllTags() {
				if !strings.HasPrefix(p.Title, tr.Tag.Name) || p.Type != "timeseries" || !strings.Contains(g.UID, tr.Line.ID) {
					continue
				}
				if w, ok := want[tr.Tag.Unit]; ok {
					seen[tr.Tag.Unit] = true
					if p.FieldConfig.Defaults.Unit != w {
						t.Errorf("%s: unit %q, want %q", tr, p.FieldConfig.Defaults.Unit, w)
					}
				}
			}
		}
	}
	for u := range want {
		if !seen[u] {
			t.Errorf("no demo panel with unit %s", u)
		}
	}
}
