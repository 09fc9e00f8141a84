package reports

import (
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
)

// TestTickLabels: y-axis labels carry enough decimals to tell the ticks
// apart (the "2.1, 2, 2" of a fill weight with 1 decimal) and at least the
// tag's decimals.
func TestTickLabels(t *testing.T) {
	labels := func(ts []plot.Tick) []string {
		var out []string
		for _, x := range ts {
			if x.Label != "" {
				out = append(out, x.Label)
			}
		}
		return out
	}
	for _, c := range []struct {
		min, max float64
		dec      int
		want     string
	}{
		{1.94, 2.06, 0, "1.95 2.00 2.05"},
		{1.94, 2.06, 3, "1.950 2.000 2.050"},
		{2.0, 2.1, 1, "2.00 2.05 2.10"},
		{238, 262, 1, "240.0 250.0 260.0"},
		{0.0049, 0.0061, 3, "0.0050 0.0055 0.0060"},
	} {
		got := strings.Join(labels(decimalTicks{decimals: c.dec}.Ticks(c.min, c.max)), " ")
		if got != c.want {
			t.Errorf("ticks [%g, %g] with %d decimals: %q, want %q", c.min, c.max, c.dec, got, c.want)
		}
	}
	if d := tickDecimals([]float64{2.0, 2.05, 2.1}, 1); d != 2 {
		t.Errorf("tickDecimals = %d, want 2", d)
	}
}

func TestChartImagesRender(t *testing.T) {
	r := smallReport()
	r.SPCCharts = []SPCChart{{Machine: "m", Tag: "temp", Detector: "ewma", Decimals: 1, Series: spcSeries["ewma"],
		Points: []SPCPoint{{Time: t0, V: []Num{5, 6, 4, 5}}, {Time: t0.Add(time.Minute), V: []Num{6.5, 6, 4, 5}}}}}
	imgs, err := chartImages(r, "png")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 3 || !strings.HasPrefix(imgs[1].Title, "EWMA chart m/temp") {
		t.Errorf("charts %d: %v", len(imgs), imgs[1].Title)
	}
}
