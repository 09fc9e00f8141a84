package display

import (
	"math"
	"testing"
	"time"

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
