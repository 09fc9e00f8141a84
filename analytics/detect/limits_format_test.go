package detect_test

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// TestLimitsMessageUsesTagFormat: a limit alarm's message writes values
// with the tag's unit and decimals and the pending time in the site zone
// (issue 18: "9.731630066159267 (limit 10)" with no unit, "…09:09:34Z").
func TestLimitsMessageUsesTagFormat(t *testing.T) {
	one, zero := 1, 0
	hi, lo := 10.0, 2.0
	for _, c := range []struct {
		name, zone, unit string
		decimals         *int
		values           []float64
		start, end       string
	}{
		{"celsius, 1 decimal, Dublin summer", "Europe/Dublin", "°C", &one, []float64{5, 10.7316, 9.2},
			"temp hi alarm started: 10.7 °C, above the limit (limit 10.0 °C) since 2026-07-02 09:01:00 IST",
			"temp hi alarm ended: 9.2 °C, back within the limit (limit 10.0 °C, deadband 0.0 °C); peak 10.7 °C"},
		{"no unit, 0 decimals, UTC", "", "", &zero, []float64{5, 10.7316, 9.2},
			"temp hi alarm started: 11, above the limit (limit 10) since 2026-07-02 08:01:00 UTC",
			"temp hi alarm ended: 9, back within the limit (limit 10, deadband 0); peak 11"},
		{"default decimals", "UTC", "g", nil, []float64{5, 1.234},
			"temp lo alarm started: 1.23 g, below the limit (limit 2.00 g) since 2026-07-02 08:01:00 UTC", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &config.Config{TimeZone: c.zone, Lines: []config.Line{{ID: "L1", Machines: []config.Machine{{ID: "fridge3", Tags: []config.Tag{
				{Name: "temp", Unit: c.unit, Decimals: c.decimals, Limits: config.Limits{Hi: &hi, Lo: &lo}},
			}}}}}}
			ref, ok := cfg.Tag("L1", "fridge3", "temp")
			if !ok {
				t.Fatal("tag not found")
			}
			p := &detect.LimitsParams{}
			d, err := p.Build(cfg.Target(ref))
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC)
			var fs []analytics.Finding
			for i, v := range c.values {
				fs = d.Update(sample.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Line: "L1", Machine: "fridge3", Tag: "temp", Value: v}, fs)
			}
			want := []string{c.start}
			if c.end != "" {
				want = append(want, c.end)
			}
			if len(fs) != len(want) {
				t.Fatalf("findings %v, want %d", fs, len(want))
			}
			for i, f := range fs {
				if f.Message != want[i] {
					t.Errorf("message %d:\n got %q\nwant %q", i, f.Message, want[i])
				}
			}
		})
	}
}
