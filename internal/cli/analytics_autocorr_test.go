package cli

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An AR(1) series with φ = 0.5 (ρ(k) = 0.5^k) read as the engine charts it:
// a re-read value (same timestamp), a bad-quality value, text and another
// tag are left out, so the estimate is that of the series.
func TestAnalyticsAutocorrelationCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("time,line,machine,tag,value,quality\n")
	t0 := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	x := 0.0
	const n = 20000
	for i := range n {
		x = 0.5*x + math.Sqrt(0.75)*rng.NormFloat64()
		ts := t0.Add(time.Duration(i) * 30 * time.Second).Format(time.RFC3339)
		fmt.Fprintf(&b, "%s,tableting1,press,tablet_weight,%g,good\n", ts, 250+2*x)
		if i%100 == 0 {
			fmt.Fprintf(&b, "%s,tableting1,press,tablet_weight,%g,good\n", ts, 999.0) // same timestamp: a re-read, not charted
			fmt.Fprintf(&b, "%s,tableting1,press,hardness,%g,good\n", ts, 80.0)
		}
		if i%333 == 0 {
			fmt.Fprintf(&b, "%s,tableting1,press,tablet_weight,%g,bad\n", t0.Add(time.Duration(i)*30*time.Second+time.Second).Format(time.RFC3339), -1e6)
		}
	}
	path := filepath.Join(t.TempDir(), "press.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "analytics", "autocorrelation", "--csv", path, "--tag", "tableting1/press/tablet_weight", "--lags", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("%d readings", n)) {
		t.Errorf("want %d readings charted:\n%s", n, out)
	}
	m := regexp.MustCompile(`autocorrelation: \[([-0-9., ]+)\]`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no autocorrelation list in:\n%s", out)
	}
	se := 1 / math.Sqrt(n)
	for k, f := range strings.Split(m[1], ", ") {
		r, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := math.Pow(0.5, float64(k+1)); math.Abs(r-want) > 4*se {
			t.Errorf("ρ(%d) = %g, want %g ± %.3f", k+1, r, want, 4*se)
		}
	}
	ms := regexp.MustCompile(`mean ([0-9.]+), sd ([0-9.]+)`).FindStringSubmatch(out)
	if ms == nil {
		t.Fatalf("no mean and sd in:\n%s", out)
	}
	mean, _ := strconv.ParseFloat(ms[1], 64)
	sd, _ := strconv.ParseFloat(ms[2], 64)
	if math.Abs(mean-250) > 0.1 || math.Abs(sd-2) > 0.05 {
		t.Errorf("mean %g, sd %g: want 250 and 2:\n%s", mean, sd, out)
	}
	if code, _, _ := run(t, "analytics", "autocorrelation", "--csv", path); code == 0 {
		t.Error("no --tag: want a usage error")
	}
}
