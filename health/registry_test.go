package health

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/linewatch/linewatch/internal/clock"
)

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

func newReg(t *testing.T) (*Registry, *prometheus.Registry) {
	t.Helper()
	pr := prometheus.NewRegistry()
	r, err := New(Options{Site: "plant1", Registerer: pr, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return r, pr
}

func TestReportQueuesChangesOnlyAndSetsGauge(t *testing.T) {
	r, _ := newReg(t)
	c := Condition{Source: SourceCollector, Name: CommLost, Line: "L1", Machine: "m1"}
	r.Report(c) // first report: published even though clear
	c.Active, c.Reason = true, "EOF"
	r.Report(c)
	c.Reason = "connection refused"
	r.Report(c) // same state, new reason: not published again
	c.Active = false
	r.Report(c)
	if n := r.Pending(); n != 3 {
		t.Fatalf("pending %d, want 3 (first clear, raise, clear)", n)
	}
	if v := value(r.gauge.WithLabelValues(SourceCollector, CommLost, "L1", "m1")); v != 0 {
		t.Errorf("gauge %v after clear, want 0", v)
	}
	q := r.queue
	if q[1].Site != "plant1" || q[1].V != SchemaVersion || !q[1].Active || q[1].Reason != "EOF" || !q[1].Since.Equal(t0) {
		t.Errorf("raise %+v", q[1])
	}
}

func TestRunPublishesInOrderAndRetriesWhileNATSIsDown(t *testing.T) {
	r, _ := newReg(t)
	var mu sync.Mutex
	var got []Condition
	down := true
	attempts := 0
	published := make(chan struct{}, 2)
	publish := func(_ context.Context, c Condition) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if down {
			return errors.New("nats: no servers available for connection")
		}
		got = append(got, c)
		published <- struct{}{}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, publish, -1) }()
	defer func() { cancel(); <-done }()

	c := Condition{Source: SourceStore, Name: InfluxWrite, Active: true, Reason: "refused", Since: t0}
	r.Report(c)
	c.Active, c.Since = false, t0.Add(time.Minute)
	r.Report(c) // raised and cleared while NATS is down: both must arrive
	// The retries wait 0.5 s, 1 s, 1.5 s, … (at most 10 s) on the clock.
	clk := r.o.Clock.(*clock.Fake)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	for n := 1; n <= 3; n++ {
		if err := clk.WaitWaiters(wctx, 1); err != nil {
			t.Fatalf("no retry armed after failure %d", n)
		}
		at, _ := clk.NextAt()
		if want := time.Duration(n) * 500 * time.Millisecond; at.Sub(clk.Now()) != want {
			t.Fatalf("retry %d in %s, want %s", n, at.Sub(clk.Now()), want)
		}
		if n == 3 {
			mu.Lock()
			down = false
			mu.Unlock()
		}
		clk.Advance(at.Sub(clk.Now()))
	}
	for range 2 {
		select {
		case <-published:
		case <-wctx.Done():
			t.Fatalf("%d changes still pending", r.Pending())
		}
	}
	mu.Lock()
	if attempts != 5 {
		t.Errorf("%d publish attempts, want 5 (3 failed, then raise and clear)", attempts)
	}
	mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !got[0].Active || got[1].Active || !got[0].Since.Equal(t0) {
		t.Fatalf("published %+v, want the raise then the clear with their own times", got)
	}
	if got[0].MsgID() == got[1].MsgID() {
		t.Error("raise and clear share a message id")
	}
}

func TestResyncRequeuesActiveOnly(t *testing.T) {
	r, _ := newReg(t)
	r.Report(Condition{Source: SourceStore, Name: SpoolInUse, Active: true})
	r.Report(Condition{Source: SourceStore, Name: SpoolHigh})
	r.queue = nil
	r.Resync()
	r.Resync() // already queued: not twice
	if len(r.queue) != 1 || r.queue[0].Name != SpoolInUse {
		t.Fatalf("after resync: %+v", r.queue)
	}
}

func TestQueueIsBounded(t *testing.T) {
	r, _ := newReg(t)
	r.o.QueueMax = 4
	for i := range 10 {
		r.Report(Condition{Source: SourceCollector, Name: CommLost, Machine: string(rune('a' + i)), Active: true})
	}
	if r.Pending() != 4 || value(r.dropped) != 6 {
		t.Errorf("pending %d dropped %v, want 4 and 6", r.Pending(), value(r.dropped))
	}
}

func TestDecodeChecksFields(t *testing.T) {
	if _, err := Decode([]byte(`{"v":1,"source":"store","name":"spool_in_use","since":"2026-03-02T06:00:00Z","active":true}`)); err != nil {
		t.Errorf("valid condition: %v", err)
	}
	for _, bad := range []string{`{`, `{"v":2,"source":"s","name":"n","since":"2026-03-02T06:00:00Z"}`,
		`{"v":1,"name":"n","since":"2026-03-02T06:00:00Z"}`, `{"v":1,"source":"s","name":"n"}`,
		`{"v":1,"source":"s","name":"n","since":"2026-03-02T06:00:00Z","priority":"panic"}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) accepted", bad)
		}
	}
}

func TestSubjectIsOneTokenPerField(t *testing.T) {
	s := Subject(Condition{Site: "plant1", Source: "collector", Name: CommLost, Line: "a.b", Machine: "*"})
	if s != "linewatch.health.plant1.collector.opcua_comm_lost.a_b._" {
		t.Errorf("subject %q", s)
	}
	if s := Subject(Condition{Site: "p", Source: "store", Name: SpoolHigh}); !strings.HasSuffix(s, "._._") {
		t.Errorf("site-wide subject %q", s)
	}
	long := strings.Repeat("é", 400)
	if got := clip(long); len(got) > maxReasonLength+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("clip: %d bytes", len(got))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"source":"store","name":"spool_in_use","since":"2026-03-02T06:00:00Z","active":true}`))
	f.Add([]byte(`{"v":1,"source":"s","name":"n","line":"a.b.*","since":"2026-03-02T06:00:00Z","reason":"\u0000"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		s := Subject(c)
		if strings.Count(s, ".") != 6 || strings.ContainsAny(s, "*> \t") {
			t.Fatalf("subject %q of a decoded condition is not 7 plain tokens", s)
		}
	})
}

func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

// Two processes of a split deployment report InfluxDB writes, one failing
// and one not: two conditions (two alarms), not one they flap between.
func TestStoreConditionsArePerProcess(t *testing.T) {
	var keys, subjects []string
	for _, proc := range []string{"collector", "analytics+alerts"} {
		r, err := New(Options{Site: "plant1", Clock: clock.NewFake(t0), Process: proc})
		if err != nil {
			t.Fatal(err)
		}
		r.Report(Condition{Source: SourceStore, Name: InfluxWrite, Active: proc == "collector"})
		r.Report(Condition{Source: SourceCollector, Name: CommLost, Line: "L1", Machine: "m1"}) // has a machine: unchanged
		if n := r.Pending(); n != 2 {
			t.Fatalf("%s: pending %d, want 2", proc, n)
		}
		c := r.queue[0]
		if c.Machine != "store@"+proc {
			t.Errorf("%s: store condition machine %q, want %q", proc, c.Machine, "store@"+proc)
		}
		if r.queue[1].Machine != "m1" {
			t.Errorf("%s: collector condition machine %q", proc, r.queue[1].Machine)
		}
		keys, subjects = append(keys, c.Key()), append(subjects, Subject(c))
	}
	if keys[0] == keys[1] || subjects[0] == subjects[1] {
		t.Fatalf("the processes' store conditions share an identity: %v %v", keys, subjects)
	}
	// One process for every role: the identity of before (alarm id …/_system/store/…).
	r, _ := newReg(t)
	r.Report(Condition{Source: SourceStore, Name: InfluxWrite})
	if m := r.queue[0].Machine; m != "" {
		t.Fatalf("single process: machine %q, want none", m)
	}
}
