package notify_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

func siteFormat(t testing.TB) *display.Formatter {
	one := 1
	f, err := display.New(&config.Config{TimeZone: "Europe/Dublin", Lines: []config.Line{{ID: "L1", Machines: []config.Machine{
		{ID: "filler", Tags: []config.Tag{{Name: "temp", Unit: "°C", Decimals: &one}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestWebhookTextAndCounters: the webhook body carries the value, limit
// and times as people read them (unit, decimals, site zone), and the
// notifier counts a notification given up (linewatch_notify_failed_total)
// and then one delivered on redelivery (linewatch_notify_sent_total).
func TestWebhookTextAndCounters(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "x")
	r := newRig(t)
	rx := newReceiver(t)
	rx.fail.Store(2) // both in-process attempts fail
	reg := prometheus.NewRegistry()
	r.start(t, config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}}, func(o *notify.Options) {
		o.Retry = notify.Retry{Attempts: 2, Base: time.Second, NakDelay: 50 * time.Millisecond}
		o.Format, o.Registerer = siteFormat(t), reg
	})
	a := testAlarm("L1", "filler", alerts.High) // value 9.1, limit 8
	r.svc.activate(&a, t0)
	waitTimers(t, r.clk, 1)
	r.clk.Advance(time.Second)
	got := rx.next(t)
	want := notify.Text{Value: "9.1 °C", Limit: "8.0 °C", Time: "2026-03-02 06:00:00 GMT", Recorded: "2026-03-02 06:00:00 GMT"}
	if got.p.Text == nil || *got.p.Text != want {
		t.Errorf("text = %+v, want %+v", got.p.Text, want)
	}
	r.drained(t)
	if f := testutil.ToFloat64(mustVec(t, reg, "linewatch_notify_failed_total")); f != 1 {
		t.Errorf("failed = %v, want 1", f)
	}
	if s := testutil.ToFloat64(mustVec(t, reg, "linewatch_notify_sent_total")); s != 1 {
		t.Errorf("sent = %v, want 1", s)
	}
}

// mustVec finds the webhook series of a counter in reg.
func mustVec(t testing.TB, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() == "webhook" {
					return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name}, func() float64 { return m.GetCounter().GetValue() })
				}
			}
		}
	}
	t.Fatalf("no %s{channel=webhook}", name)
	return nil
}
