package display

import (
	"math"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/analytics/pca"
	"github.com/linewatch/linewatch/config"
)

func ptr[T any](v T) *T { return &v }

func testConfig(zone string) *config.Config {
	return &config.Config{TimeZone: zone, Lines: []config.Line{{ID: "filling", Machines: []config.Machine{{ID: "filler1", Tags: []config.Tag{
		{Name: "fill_weight", Unit: "g", Decimals: ptr(2)},
		{Name: "temperature", Unit: "°C", Decimals: ptr(1)},
		{Name: "rejects", Decimals: ptr(0)},
		{Name: "speed", Unit: "vials/min"},
	}}}}}}
}

func TestValueTable(t *testing.T) {
	f, err := New(testConfig("UTC"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		machine, tag string
		v            float64
		want         string
	}{
		{"filler1", "fill_weight", 12.345, "12.35 g"}, // 12.345 is stored as 12.34500000000000064: rounds up
		{"filler1", "fill_weight", 12, "12.00 g"},
		{"filler1", "temperature", 5, "5.0 °C"},
		{"filler1", "temperature", -0.04, "0.0 °C"}, // never "-0.0"
		{"filler1", "temperature", -18.26, "-18.3 °C"},
		{"filler1", "rejects", 17, "17"},
		{"filler1", "speed", 300.456, "300.46 vials/min"}, // no decimals configured: DefaultDecimals
		{"", "fill_weight", 1.5, "1.50 g"},                // machine unknown to the caller
		{"filler1", "unknown", 3.14159, "3.14"},
		{"filler1", "temperature", math.NaN(), "NaN °C"},
		{"filler1", "temperature", math.Inf(1), "+Inf °C"},
		{"filler1", "temperature", math.Inf(-1), "-Inf °C"},
	} {
		if got := f.Value("filling", c.machine, c.tag, c.v); got != c.want {
			t.Errorf("Value(%s/%s, %v) = %q, want %q", c.machine, c.tag, c.v, got, c.want)
		}
	}
	if got := Number(1e6, 1, ""); got != "1000000.0" {
		t.Errorf("Number(1e6) = %q", got)
	}
	if got := Number(2.5, 99, ""); got != "2.5000000000" {
		t.Errorf("decimals are capped at 10: %q", got)
	}
}

func TestTimeInSiteZone(t *testing.T) {
	at := time.Date(2026, 7, 1, 12, 30, 5, 0, time.UTC)
	for _, c := range []struct {
		zone, want, label string
	}{
		{"UTC", "2026-07-01 12:30:05 UTC", "UTC"},
		{"", "2026-07-01 12:30:05 UTC", "UTC"},
		{"Europe/Dublin", "2026-07-01 13:30:05 IST", "Europe/Dublin (UTC+01:00)"},
		{"America/New_York", "2026-07-01 08:30:05 EDT", "America/New_York (UTC-04:00)"},
	} {
		f, err := New(testConfig(c.zone))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Time(at); got != c.want {
			t.Errorf("%s: Time = %q, want %q", c.zone, got, c.want)
		}
		if got := f.ZoneLabel(at); got != c.label {
			t.Errorf("%s: ZoneLabel = %q, want %q", c.zone, got, c.label)
		}
	}
	var zero *Formatter
	if got := zero.Time(at); got != "2026-07-01 12:30:05 UTC" {
		t.Errorf("nil Formatter: %q", got)
	}
	if got := zero.Time(time.Time{}); got != "—" {
		t.Errorf("zero time: %q", got)
	}
}

func TestBadZoneRefused(t *testing.T) {
	for _, z := range []string{"Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Local"} {
		if _, err := New(testConfig(z)); err == nil {
			t.Errorf("time zone %q accepted", z)
		}
	}
	if f := MustNew(testConfig("Mars/Olympus")); f.Location() != time.UTC {
		t.Errorf("MustNew fallback is %v", f.Location())
	}
}

// TestFindingQuantities: a finding's value, statistic and limit are
// written as what they measure (detect.Quantities), not all in the tag's
// unit: a flatline's limit of 1800 s is "30m0s", not "1800.00 g".
func TestFindingQuantities(t *testing.T) {
	f, err := New(testConfig("UTC"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		detector, rule, tag string
		value, stat, limit  float64
		want                [3]string
	}{
		{"limits", "hi", "temperature", 8.46, 8.46, 8, [3]string{"8.5 °C", "8.5 °C", "8.0 °C"}},
		{"ewma", "upper", "fill_weight", 12.4, 12.3456, 12.3, [3]string{"12.40 g", "12.35 g", "12.30 g"}},
		{"flatline", "stuck", "fill_weight", 12.4, 1800, 1800, [3]string{"12.40 g", "30m0s", "30m0s"}},
		{"stale", "stale", "temperature", 5, 300.4, 300, [3]string{"5.0 °C", "5m0s", "5m0s"}},
		{"roc", "rise", "temperature", 5, 2.84, 2, [3]string{"5.0 °C", "2.8 °C/min", "2.0 °C/min"}},
		{"roc", "rise", "rejects", 5, 2.84, 2, [3]string{"5", "3 per min", "2 per min"}},
		{"tor", "warn50", "temperature", 9.1, 50, 50, [3]string{"9.1 °C", "50.00 %", "50.00 %"}},
		{"tor", "freeze", "temperature", -0.2, 0, 0, [3]string{"-0.2 °C", "0s", "0s"}},
		{"nelson", "nelson1", "fill_weight", 12.9, 3.456, 3, [3]string{"12.90 g", "3.46", "3.00"}},
		{"nelson", "mr", "fill_weight", 12.9, 0.61, 0.5, [3]string{"12.90 g", "0.61 g", "0.50 g"}},
		{"p_chart", "upper", "rejects", 0.44, 0.44, 0.4102, [3]string{"44.00 %", "44.00 %", "41.02 %"}},
		{"yield", "yield_low", "rejects", 89.19, 89.19, 98, [3]string{"89.19 %", "89.19 %", "98.00 %"}},
		{"cpk", "low", "fill_weight", 12.3, 0.58, 1.33, [3]string{"12.30 g", "0.58", "1.33"}},
		{"pca", "t2", "model", 14.2, 14.2, 11.07, [3]string{"14.20", "14.20", "11.07"}},
		{"batch_evolution", "envelope", "temperature", -41.26, -3.4, -40.9, [3]string{"-41.3 °C", "-3.40", "-40.9 °C"}},
		{"batch_evolution", "phase", "phase", 7200, 7200, 5400, [3]string{"2h0m0s", "2h0m0s", "1h30m0s"}},
		{"system", "", "temperature", 1, 1, 1, [3]string{"1.0 °C", "1.0 °C", "1.0 °C"}},
	} {
		got := [3]string{
			f.FindingValue("filling", "filler1", c.tag, c.detector, c.rule, c.value),
			f.FindingStatistic("filling", "filler1", c.tag, c.detector, c.rule, c.stat),
			f.FindingLimit("filling", "filler1", c.tag, c.detector, c.rule, c.limit),
		}
		if got != c.want {
			t.Errorf("%s/%s: got %q, want %q", c.detector, c.rule, got, c.want)
		}
	}
}

// TestQuantityDetectorNames: the names detect.Quantities knows for the
// multivariate detectors are the ones their packages write.
func TestQuantityDetectorNames(t *testing.T) {
	if pca.DetectorName != "pca" || batchev.DetectorName != "batch_evolution" {
		t.Fatalf("detector names changed: %q, %q (update detect.Quantities)", pca.DetectorName, batchev.DetectorName)
	}
	if _, _, q := detect.Quantities(pca.DetectorName, "t2"); q != detect.Plain {
		t.Errorf("pca limit: %v", q)
	}
	if _, s, _ := detect.Quantities(batchev.DetectorName, batchev.RuleEnvelope); s != detect.Plain {
		t.Errorf("batch evolution envelope statistic: %v", s)
	}
}
