package dashboards_test

import (
	"encoding/json"
	"testing"

	"github.com/linewatch/linewatch/dashboards"
)

// FuzzDecode: the strict decoder must never panic, whatever the input, and
// what it accepts must encode again.
func FuzzDecode(f *testing.F) {
	cfg, err := demoConfigF()
	if err != nil {
		f.Fatal(err)
	}
	gens, err := dashboards.Build(cfg, dashboards.Options{})
	if err != nil {
		f.Fatal(err)
	}
	// Small seeds keep the fuzzer fast: a few panels of each kind, one
	// variable and one annotation per dashboard.
	for _, g := range gens {
		d := g.Dashboard
		d.Panels = d.Panels[:min(3, len(d.Panels))]
		d.Templating.List = d.Templating.List[:min(1, len(d.Templating.List))]
		d.Annotations.List = d.Annotations.List[:min(1, len(d.Annotations.List))]
		d.Links = nil
		raw, _ := json.Marshal(d)
		f.Add(raw)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schemaVersion": 41, "templating": {"list": []}, "annotations": {"list": []}, "panels": [{"type": "timeseries", "targets": [{"refId": "A"}]}]}`))
	f.Add([]byte(`{"panels": [{"type": "row", "panels": [{"type": "stat", "options": null}]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := dashboards.Decode(raw)
		if err != nil {
			return
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("accepted dashboard does not encode: %v", err)
		}
	})
}
