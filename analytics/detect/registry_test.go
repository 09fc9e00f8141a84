package detect

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every registry entry is a Spec with a key of its own, builds a detector
// named as its findings are (yield, tracked by the engine, excepted) and is
// documented in docs/configuration.md.
func TestRegistry(t *testing.T) {
	docs, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := RuleKeys()
	want := []string{"limits", "flatline", "rate_of_change", "shewhart", "ewma", "cusum", "page_hinkley", "mkt", "tor", "stale", "cpk", "p_chart", "yield"}
	if !slices.Equal(keys, want) {
		t.Fatalf("registry keys %v, want %v (the order is the engine's build order)", keys, want)
	}
	var r Rule
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		v.Field(i).Set(reflect.New(v.Field(i).Type().Elem()))
	}
	specs := r.Specs()
	if len(specs) != len(keys) {
		t.Fatalf("Specs listed %d of %d set detectors", len(specs), len(keys))
	}
	for i, d := range specs {
		if d.Key != keys[i] {
			t.Errorf("Specs()[%d].Key = %q, want %q", i, d.Key, keys[i])
		}
		if !strings.Contains(string(docs), "| `"+d.Key+"` |") {
			t.Errorf("detector key %q is not in the table of docs/configuration.md", d.Key)
		}
		_, builds := d.Spec.(Builder)
		if builds == (d.Key == "yield") {
			t.Errorf("%s: Builder %v", d.Key, builds)
		}
	}
}

// The configured parameters become the detector's: a configured EWMA with
// a known baseline builds a chart with that centre line and the configured
// hysteresis, and a bad parameter names its key.
func TestSpecBuildAndCheck(t *testing.T) {
	mean, sigma := 2.0, 0.01
	p := &EWMAParams{}
	p.Prefill()
	p.Start = Baseline{Mean: &mean, Sigma: &sigma}
	p.SetDefaults()
	if ps := p.Check(); len(ps) != 0 {
		t.Fatalf("Check: %v", ps)
	}
	d, err := p.Build(Target{Tag: "l/m/t"})
	if err != nil {
		t.Fatal(err)
	}
	e := d.(*EWMA)
	if e.p.Mean != 2 || e.p.Sigma != 0.01 || e.p.Baseline != 0 || e.p.Hysteresis != DefaultEWMAHysteresis || e.p.Lambda != 0.2 || e.p.L != 3 {
		t.Errorf("built params %+v", e.p)
	}

	p.Lambda, p.Autocorrelation = 1.5, []float64{0.2, 2}
	got := p.Check()
	if len(got) != 2 || got[0].Field != "lambda" || got[0].Value != "1.5" || got[1].Field != "autocorrelation[1]" || got[1].Value != "2" {
		t.Errorf("Check = %+v, want lambda and autocorrelation[1]", got)
	}

	roc := &ROCParams{MaxPerMinute: 0.5}
	rd, err := roc.Build(Target{})
	if err != nil {
		t.Fatal(err)
	}
	if q := rd.(*RateOfChange).p; q.MaxRise != 0.5 || q.MaxFall != 0.5 {
		t.Errorf("rate_of_change built with %+v, want both directions 0.5", q)
	}

	lo, hi := 20.0, 65.0
	ld, err := (&LimitsParams{}).Build(Target{Role: "humidity", Lo: &lo, Hi: &hi})
	if err != nil {
		t.Fatal(err)
	}
	if ld.Name() != NameHumidity {
		t.Errorf("limits on a humidity tag named %q", ld.Name())
	}
	if ps := (&LimitsParams{}).CheckTarget(Target{Tag: "l/m/t"}); len(ps) != 1 || !strings.Contains(ps[0].Allowed, "l/m/t has no limits") {
		t.Errorf("CheckTarget without limits = %+v", ps)
	}
}
