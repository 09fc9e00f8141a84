package console_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

// weightSamples is L1/filler/weight every 5 s from t0-20 min to t0+20 min:
// 9.5 g, above hihi (12.5 g) from t0 for 5 minutes, and one bad-quality
// reading at t0-10 min.
func weightSamples() []sample.Sample {
	var out []sample.Sample
	for ts := t0.Add(-20 * time.Minute); ts.Before(t0.Add(20 * time.Minute)); ts = ts.Add(5 * time.Second) {
		v := 9.5 + 0.2*math.Sin(float64(ts.Unix())/60)
		if !ts.Before(t0) && ts.Before(t0.Add(5*time.Minute)) {
			v = 12.5
		}
		s := sample.Sample{Time: ts, Site: "plant1", Line: "L1", Machine: "filler", Tag: "weight", Unit: "g", Value: v}
		if ts.Equal(t0.Add(-10 * time.Minute)) {
			s.Status = 0x80000000
		}
		out = append(out, s)
	}
	return out
}

// influxWithSamples writes ss through the real store.Writer into a fresh
// database of the test InfluxDB and returns a reader on it.
func influxWithSamples(t *testing.T, ss []sample.Sample) *store.Client {
	t.Helper()
	db := testenv.Influx(t)
	cfg := config.InfluxDB{URL: db.URL, Database: db.Database, BatchSize: 1000, FlushInterval: 20 * time.Millisecond,
		Timeout: 5 * time.Second, Writers: 1, Spool: config.Spool{Dir: t.TempDir(), MaxSizeMB: 16}}
	w, err := store.NewWriter(cfg, store.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	w.WriteSamples(ss)
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	defer fcancel()
	if err := w.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	c, err := store.NewClient(cfg, store.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestTrendEndpointIntegration: the trend of an alarm's tag from real
// InfluxDB: 15 min before the activation to 15 min after the clear, the
// configured limits formatted in the tag's unit, the activation,
// acknowledgement and clear marked, a bad reading as a gap.
func TestTrendEndpointIntegration(t *testing.T) {
	sc := influxWithSamples(t, weightSamples())
	r := startConsole(t, rigOpts{cfg: testConfig(), samples: sc.Samples})
	a := r.svc.place(alerts.Alarm{ID: "plant1/L1/filler/weight/limits/hihi", Line: "L1", Machine: "filler", Tag: "weight", Detector: "limits", Rule: "hihi",
		Priority: alerts.Urgent, Message: "fill weight above hihi", Value: 12.5, Limit: 12})
	c := r.client(t)
	c.login("alice", alicePW)
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}); code != 200 {
		t.Fatalf("ack: %d %v", code, m)
	}
	r.clk.Advance(5 * time.Minute)
	r.svc.clear(a.ID)               // acknowledged → normal: the trend comes from the bucket
	r.clk.Advance(30 * time.Minute) // later than the window's end; within the session's idle limit

	code, m, _ := c.do("GET", "/api/trend?alarm="+a.ID, nil)
	if code != 200 {
		t.Fatalf("trend: %d %v", code, m)
	}
	ts, vs := m["t"].([]any), m["v"].([]any)
	// [t0-15m, t0+5m+15m) every 5 s = 35 min = 420 samples.
	if len(ts) != 420 || len(vs) != 420 || m["samples"] != float64(420) {
		t.Fatalf("%d times, %d values, samples %v; want 420", len(ts), len(vs), m["samples"])
	}
	if ts[0] != float64(t0.Add(-15*time.Minute).Unix()) {
		t.Errorf("first sample at %v, want t0-15m", ts[0])
	}
	if vs[60] != nil || vs[61] == nil || vs[180] != 12.5 {
		t.Errorf("values at -10 min %v (want null: bad quality), next %v, at t0 %v", vs[60], vs[61], vs[180])
	}
	limits := m["limits"].([]any)
	if len(limits) != 2 || limits[0].(map[string]any)["name"] != "Hi" || limits[1].(map[string]any)["text"] != "12.00 g" {
		t.Errorf("limits %v", limits)
	}
	var marks []string
	for _, x := range m["marks"].([]any) {
		mk := x.(map[string]any)
		marks = append(marks, mk["name"].(string)+" "+mk["text"].(string))
	}
	want := []string{"activated 2026-03-02 07:00:00 CET", "acknowledged 2026-03-02 07:00:00 CET", "cleared 2026-03-02 07:05:00 CET"}
	if len(marks) != 3 || marks[0] != want[0] || marks[1] != want[1] || marks[2] != want[2] {
		t.Errorf("marks %v, want %v", marks, want)
	}
	if m["unit"] != "g" || m["decimals"] != float64(2) || m["tz"] != "Europe/Berlin" {
		t.Errorf("unit %v decimals %v tz %v", m["unit"], m["decimals"], m["tz"])
	}
	if code, m, _ := c.do("GET", "/api/trend?alarm=plant1/L9/x/y/limits/hi", nil); code != 404 || m["message"] == "" {
		t.Errorf("unknown alarm: %d %v", code, m)
	}
}

// TestTrendWithoutInfluxDB: a console without a sample reader says so.
func TestTrendWithoutInfluxDB(t *testing.T) {
	r := startConsole(t, rigOpts{cfg: testConfig()})
	c := r.client(t)
	c.login("victor", victorPW)
	if code, m, _ := c.do("GET", "/api/trend?alarm=plant1/L1/filler/weight/limits/hi", nil); code != 503 || m["code"] != "no_trend" {
		t.Errorf("trend without InfluxDB: %d %v", code, m)
	}
}
