package cli

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics/pca"
	"github.com/linewatch/linewatch/internal/testenv"
)

var trainT0 = time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)

const trainN = 400 // one-second reads of the press

// pressReference is a correlated tablet press record (weight, hardness and
// force follow one latent factor) written to InfluxDB with the defects a
// real reference period has: force starts 2 s late, hardness has one bad
// read at 50 s, weight misses its reads from 100 to 104 s. It returns the
// rows the trainer must use (last value carried forward up to 3 s).
func pressReference(t *testing.T, db testenv.InfluxDB) [][3]float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	vals := make([][3]float64, trainN)
	var lp bytes.Buffer
	point := func(i int, tag string, v float64, quality uint32) {
		fmt.Fprintf(&lp, "telemetry,line=tableting1,machine=press,site=demo-plant,tag_name=%s quality=%di,value=%s %d\n",
			tag, quality, strconv.FormatFloat(v, 'g', -1, 64), trainT0.Add(time.Duration(i)*time.Second).UnixNano())
	}
	for i := range trainN {
		z := rng.NormFloat64()
		vals[i] = [3]float64{250 + 2*z + 0.3*rng.NormFloat64(), 80 + 4*z + 0.5*rng.NormFloat64(), 12 + 0.5*z + 0.08*rng.NormFloat64()}
		if i < 100 || i > 104 {
			point(i, "tablet_weight", vals[i][0], 0)
		}
		if i == 50 {
			point(i, "hardness", 999, 0x80000000) // bad quality: the row is refused
		} else {
			point(i, "hardness", vals[i][1], 0)
		}
		if i >= 2 {
			point(i, "compression_force", vals[i][2], 0)
		}
		point(i, "thickness", 3+rng.NormFloat64(), 0) // not in the model
		fmt.Fprintf(&lp, "telemetry,line=coldroom1,machine=coldroom,site=demo-plant,tag_name=temp_probe1 quality=0i,value=5 %d\n",
			trainT0.Add(time.Duration(i)*time.Second).UnixNano())
	}
	resp, err := http.Post(db.URL+"/write?precision=ns&db="+db.Database, "text/plain", &lp)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %s", resp.Status)
	}
	var rows [][3]float64
	for i := range trainN {
		switch {
		case i < 2, i == 50, i == 103, i == 104: // no force yet; bad hardness; weight older than 3 s
			continue
		case i >= 100 && i <= 102:
			rows = append(rows, [3]float64{vals[99][0], vals[i][1], vals[i][2]})
		default:
			rows = append(rows, vals[i])
		}
	}
	return rows
}

func trainConfig(t *testing.T, db testenv.InfluxDB) string {
	t.Helper()
	text, err := os.ReadFile("../../config/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(text), `url: ""            # empty: linewatch starts its own InfluxDB 1.8 (demo only)
  database: linewatch`, fmt.Sprintf("url: %q\n  database: %q", db.URL, db.Database), 1)
	s = strings.Replace(s, "\nalarms:", `
  models:
    - {name: press, file: press.json, line: tableting1, tags: [press/tablet_weight, press/hardness, press/compression_force]}
alarms:`, 1)
	if s == string(text) || !strings.Contains(s, db.Database) {
		t.Fatal("demo.yaml changed: cannot point it at the test InfluxDB")
	}
	f := filepath.Join(t.TempDir(), "linewatch.yaml")
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func meanStd(rows [][3]float64, j int) (float64, float64) {
	var s float64
	for _, r := range rows {
		s += r[j]
	}
	m := s / float64(len(rows))
	var ss float64
	for _, r := range rows {
		ss += (r[j] - m) * (r[j] - m)
	}
	return m, math.Sqrt(ss / float64(len(rows)-1))
}

// `analytics train --model press --from --to` reads the range from the real
// InfluxDB, aligns the three tags on the 1 s poll grid and trains on exactly
// the expected rows.
func TestAnalyticsTrainFromInflux(t *testing.T) {
	db := testenv.Influx(t)
	rows := pressReference(t, db)
	cfgFile := trainConfig(t, db)
	out := filepath.Join(t.TempDir(), "press.json")
	from, to := trainT0.Format(time.RFC3339), trainT0.Add(trainN*time.Second).Format(time.RFC3339)

	code, stdout, stderr := run(t, "analytics", "train", "-c", cfgFile, "--model", "press", "--from", from, "--to", to, "--components", "1", "-o", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "press: 400 grid points of 1s, 395 rows used; left out: 2 before every tag had a value, 1 with a non-good value, 2 with a value older than 3s") {
		t.Errorf("alignment summary: %q", stderr)
	}
	if !strings.Contains(stdout, "model press: 3 variables, 1 components, 395 rows") {
		t.Errorf("output %q", stdout)
	}
	m, err := pca.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"press/tablet_weight", "press/hardness", "press/compression_force"}; !slices.Equal(m.Variables, want) {
		t.Fatalf("variables %q, want %q", m.Variables, want)
	}
	if m.Name != "press" || m.TrainingRows != len(rows) || len(rows) != 395 {
		t.Fatalf("model %q trained on %d rows, want %d", m.Name, m.TrainingRows, len(rows))
	}
	if !m.From.Equal(trainT0) || !m.To.Equal(trainT0.Add(trainN*time.Second)) || !strings.Contains(m.Source, db.Database) {
		t.Errorf("provenance %s – %s from %q", m.From, m.To, m.Source)
	}
	for j := range 3 {
		mean, sd := meanStd(rows, j)
		if math.Abs(m.Mean[j]-mean) > 1e-9*math.Abs(mean) || math.Abs(m.Std[j]-sd) > 1e-9*sd {
			t.Errorf("%s: mean %.12g σ %.12g, want %.12g / %.12g", m.Variables[j], m.Mean[j], m.Std[j], mean, sd)
		}
	}
	// The three tags share one factor: one component carries most of the variance.
	if m.Eigenvalues[0] < 2.5 {
		t.Errorf("first eigenvalue %.3g of 3: the correlation was lost in alignment", m.Eigenvalues[0])
	}
}

// --tags with full line/machine/tag names and an explicit --step; the
// variables are named as given. Mistakes are usage errors or name the fix.
func TestAnalyticsTrainFromInfluxTags(t *testing.T) {
	db := testenv.Influx(t)
	rows := pressReference(t, db)
	cfgFile := trainConfig(t, db)
	out := filepath.Join(t.TempDir(), "m.json")
	from, to := trainT0.Format(time.RFC3339), trainT0.Add(trainN*time.Second).Format(time.RFC3339)
	tags := "tableting1/press/hardness,tableting1/press/compression_force,tableting1/press/tablet_weight"

	code, _, stderr := run(t, "analytics", "train", "-c", cfgFile, "--tags", tags, "--name", "hfw", "--step", "1s", "--from", from, "--to", to, "--components", "1", "-o", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m, err := pca.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Split(tags, ","); !slices.Equal(m.Variables, want) || m.Name != "hfw" || m.TrainingRows != len(rows) {
		t.Fatalf("model %q variables %q rows %d", m.Name, m.Variables, m.TrainingRows)
	}
	if mean, _ := meanStd(rows, 1); math.Abs(m.Mean[0]-mean) > 1e-9*mean {
		t.Errorf("hardness mean %v, want %v", m.Mean[0], mean)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--model", "press", "--from", from, "--to", to}, ExitUsage, "-o FILE is required"},
		{[]string{"--model", "press", "--tags", tags, "--from", from, "--to", to, "-o", out}, ExitUsage, "not both"},
		{[]string{"--model", "nope", "--from", from, "--to", to, "-o", out}, ExitFailure, `--model "nope" is not in analytics.models`},
		{[]string{"--tags", "tableting1/press/nope,tableting1/press/hardness", "--name", "x", "--from", from, "--to", to, "-o", out}, ExitFailure, `tag "tableting1/press/nope" is not in the config`},
		{[]string{"--model", "press", "--from", to, "--to", from, "-o", out}, ExitFailure, "is not after --from"},
		{[]string{"--model", "press", "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-01T01:00:00Z", "-o", out}, ExitFailure, "no complete rows"},
	} {
		code, _, stderr := run(t, append([]string{"analytics", "train", "-c", cfgFile}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%q: exit %d %q, want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

// The wide-CSV path still trains on the CSV rows as given.
func TestAnalyticsTrainCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var b strings.Builder
	b.WriteString("time,a,b,c\n")
	var rows [][3]float64
	for i := range 100 {
		z := rng.NormFloat64()
		r := [3]float64{z + 0.1*rng.NormFloat64(), 2*z + 0.1*rng.NormFloat64(), rng.NormFloat64()}
		rows = append(rows, r)
		fmt.Fprintf(&b, "%s,%v,%v,%v\n", trainT0.Add(time.Duration(i)*time.Second).Format(time.RFC3339), r[0], r[1], r[2])
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "ref.csv"), filepath.Join(dir, "m.json")
	os.WriteFile(in, []byte(b.String()), 0o600)
	if code, _, _ := run(t, "analytics", "train", "--csv", in, "-o", out); code != ExitUsage {
		t.Errorf("--csv without --name: exit %d, want %d", code, ExitUsage)
	}
	code, _, stderr := run(t, "analytics", "train", "--csv", in, "--name", "abc", "--components", "1", "-o", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m, err := pca.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	mean, sd := meanStd(rows, 1)
	if !slices.Equal(m.Variables, []string{"a", "b", "c"}) || m.TrainingRows != 100 || math.Abs(m.Mean[1]-mean) > 1e-12 || math.Abs(m.Std[1]-sd) > 1e-12 {
		t.Fatalf("model %q rows %d mean %v σ %v, want %v / %v", m.Variables, m.TrainingRows, m.Mean[1], m.Std[1], mean, sd)
	}
	if m.ResidualComponents != 0 {
		t.Fatalf("residual T² without --residual-t2: %d components", m.ResidualComponents)
	}
	// --residual-t2 keeps both residual components (neither is an exact
	// collinearity) and says so.
	code, stdout, stderr := run(t, "analytics", "train", "--csv", in, "--name", "abc", "--components", "1", "--residual-t2", "-o", out)
	if code != ExitOK {
		t.Fatalf("--residual-t2: exit %d: %s", code, stderr)
	}
	if m, err = pca.Load(out); err != nil {
		t.Fatal(err)
	}
	if m.ResidualComponents != 2 || !(m.T2RLimit > 0) || !strings.Contains(stdout, "residual T² over 2 components") {
		t.Fatalf("--residual-t2: %d residual components, limit %v, output %q", m.ResidualComponents, m.T2RLimit, stdout)
	}
}
