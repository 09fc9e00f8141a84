package collector

import (
	"context"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/simulator"
)

// The real simulator goes away: "OPC UA communication lost" is raised for
// every machine on the session exactly comm_loss_alarm_delay after the
// session went down (on the injected clock), and cleared once it is back.
func TestCommLossRaisedAfterDelayAndClearedOnRestoreIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: OPC UA simulator")
	}
	const delay = 10 * time.Second
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{})
	cfg.Collector.CommLossAlarmDelay = delay
	fake := clock.NewFake(time.Now())
	conds := make(chan health.Condition, 64)
	rec := newRecorder()
	c := runCollector(t, cfg, Options{Output: rec, Clock: fake, Health: func(c health.Condition) { conds <- c }})

	next := func(what string) health.Condition {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			select {
			case c := <-conds:
				if c.Name == health.CommLost {
					return c
				}
			case <-time.After(20 * time.Millisecond):
				fake.Advance(100 * time.Millisecond) // lets reconnect backoff pass
			}
		}
		t.Fatalf("no %s", what)
		return health.Condition{}
	}
	// Session up: both machines report "clear" once (an alarm a previous
	// process left is cleared).
	for range 2 {
		if c := next("clear at start"); c.Active {
			t.Fatalf("at start: %+v", c)
		}
	}
	if err := sim.Restart(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "disconnected status", func(r *recorder) bool {
		return len(r.status) > 0 && !r.status[len(r.status)-1].Connected
	})
	rec.mu.Lock()
	var downAt time.Time
	for _, st := range rec.status { // the first down: later ones only change the reason
		if !st.Connected {
			downAt = st.Time
			break
		}
	}
	rec.mu.Unlock()
	due := downAt.Add(delay)

	// Up to one step before the delay: nothing is raised.
	for fake.Now().Add(time.Second).Before(due) {
		fake.Advance(time.Second)
	}
	select {
	case c := <-conds:
		t.Fatalf("raised before the delay (at %s, due %s): %+v", fake.Now(), due, c)
	default:
	}
	fake.Advance(time.Second)
	raised := map[string]health.Condition{}
	for len(raised) < 2 {
		c := next("comm-lost raise")
		if !c.Active {
			t.Fatalf("clear while the server is down: %+v", c)
		}
		raised[c.Machine] = c
	}
	for m, c := range raised {
		if !c.Since.Equal(due) {
			t.Errorf("%s raised at %s, want %s (down at %s + %s)", m, c.Since, due, downAt, delay)
		}
		if c.Line != "filling1" || c.Source != health.SourceCollector || !strings.Contains(c.Reason, sim.Endpoint()) {
			t.Errorf("%s: %+v: want line, source and the endpoint in the reason", m, c)
		}
	}
	if v := gaugeValue(c.met.commLost.WithLabelValues("filling1", "filler")); v != 1 {
		t.Errorf("linewatch_collector_comm_lost = %v while lost, want 1", v)
	}

	sim.Advance(time.Hour) // the server is back
	cleared := map[string]bool{}
	for len(cleared) < 2 {
		c := next("comm-lost clear")
		if c.Active {
			continue
		}
		cleared[c.Machine] = true
	}
	if v := gaugeValue(c.met.commLost.WithLabelValues("filling1", "checkweigher")); v != 0 {
		t.Errorf("linewatch_collector_comm_lost = %v after restore, want 0", v)
	}
}

func gaugeValue(g interface {
	Write(*dto.Metric) error
}) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
