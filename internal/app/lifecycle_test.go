package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// stopLog records components in the order they finished stopping.
type stopLog struct {
	mu    sync.Mutex
	names []string
}

func (l *stopLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
}

func (l *stopLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.names)
}

// draining is a component that, once cancelled, takes drain to hand on
// what it holds (in the bubble's fake time) and then records its stop.
func draining(name string, drain time.Duration, l *stopLog) component {
	return component{name, func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(drain)
		l.add(name)
		return nil
	}}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// shutdown runs comps in the bubble, cancels once all are running (before
// checks first), and returns how long the shutdown took and runAll's error
// (in the bubble's fake time).
func shutdown(comps []component, before func()) (time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runAll(ctx, discard, 5*time.Second, comps) }()
	synctest.Wait()
	if before != nil {
		before()
	}
	start := time.Now()
	cancel()
	err := <-done
	return time.Since(start), err
}

// Every component of shutdownOrder, listed in reverse and each taking a
// second to drain, stops in data-flow order: collector before the
// JetStream publisher before analytics before alerts before the InfluxDB
// writer. Were they all cancelled at once, a later stage would finish
// draining while an earlier one still hands it data.
func TestShutdownInDataFlowOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l stopLog
		var comps []component
		for i := len(shutdownOrder) - 1; i >= 0; i-- {
			for _, n := range shutdownOrder[i] {
				comps = append(comps, draining(n, time.Second, &l))
			}
		}
		d, err := shutdown(comps, func() {
			if got := l.get(); len(got) != 0 {
				t.Fatalf("stopped before the shutdown: %v", got)
			}
		})
		if err != nil {
			t.Fatalf("runAll: %v", err)
		}
		got := l.get()
		if len(got) != len(comps) {
			t.Fatalf("stopped %v, want all %d", got, len(comps))
		}
		last := 0
		for _, n := range got {
			s, _ := stageOf(n)
			if s < last {
				t.Fatalf("stop order %v: %s (stage %d) stopped after stage %d", got, n, s, last)
			}
			last = s
		}
		if got[0] != "collector" && got[0] != "self-metrics" && got[0] != "console" {
			t.Errorf("first to stop: %s, want an input (collector, self-metrics, console)", got[0])
		}
		if i, j := slices.Index(got, "telemetry"), slices.Index(got, "analytics"); i > j {
			t.Errorf("stop order %v: analytics before the JetStream publisher drained", got)
		}
		if i := slices.Index(got, "influxdb"); i < slices.Index(got, "alerts") {
			t.Errorf("stop order %v: the InfluxDB writer stopped before alerts wrote its last points", got)
		}
		// One second per stage: each waits for the one before.
		if d != time.Duration(len(shutdownOrder))*time.Second {
			t.Errorf("shutdown took %s, want %d stages × 1 s", d, len(shutdownOrder))
		}
	})
}

// A component that does not stop is given up on after the timeout and
// named in the error, and the later stages are still stopped: the
// InfluxDB writer spools what it holds. The stages before the writer share
// one timeout, the writer has its own: a shutdown ends within twice it.
func TestShutdownGivesUpOnStuckComponents(t *testing.T) {
	for _, tc := range []struct {
		stuck, draining []string
		wantErr         string
		wantStopped     []string // sorted: out of time, the rest stop together
		took            time.Duration
	}{
		{[]string{"collector"}, []string{"telemetry", "influxdb"}, "collector did not stop within 5s", []string{"influxdb", "telemetry"}, 5 * time.Second},
		{[]string{"analytics", "influxdb"}, nil, "analytics, influxdb did not stop within 5s", nil, 10 * time.Second},
	} {
		t.Run(strings.Join(tc.stuck, "+"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var l stopLog
				release := make(chan struct{})
				var comps []component
				for _, n := range tc.stuck {
					comps = append(comps, component{n, func(ctx context.Context) error { <-release; return nil }})
				}
				for _, n := range tc.draining {
					comps = append(comps, draining(n, 0, &l))
				}
				d, err := shutdown(comps, nil)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("runAll: %v, want %q", err, tc.wantErr)
				}
				if got := slices.Sorted(slices.Values(l.get())); !slices.Equal(got, tc.wantStopped) {
					t.Errorf("stopped %v, want %v", got, tc.wantStopped)
				}
				if d != tc.took {
					t.Errorf("shutdown took %s, want %s", d, tc.took)
				}
				close(release)
			})
		})
	}
}

// A component that fails stops the process, in the same order.
func TestComponentFailureShutsDownInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l stopLog
		boom := errors.New("InfluxDB database missing")
		failing := component{"influxdb", func(context.Context) error { return boom }}
		comps := []component{failing, draining("analytics", time.Second, &l), draining("collector", time.Second, &l)}
		err := runAll(t.Context(), discard, 5*time.Second, comps)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "influxdb: ") {
			t.Errorf("runAll: %v, want the writer's error named", err)
		}
		if got := l.get(); !slices.Equal(got, []string{"collector", "analytics"}) {
			t.Errorf("stopped %v, want collector then analytics", got)
		}
	})
}

// A component missing from shutdownOrder, or started twice, is refused
// before anything starts.
func TestRunAllRefusesUnorderedComponents(t *testing.T) {
	ran := false
	run := func(ctx context.Context) error { ran = true; return nil }
	for _, comps := range [][]component{
		{{"collector", run}, {"exporter", run}},
		{{"collector", run}, {"collector", run}},
	} {
		if err := runAll(t.Context(), discard, time.Second, comps); err == nil {
			t.Errorf("%s, %s: no error", comps[0].name, comps[1].name)
		}
	}
	if ran {
		t.Error("a component ran")
	}
}

func TestComponentNamesInStopOrder(t *testing.T) {
	run := func(context.Context) error { return nil }
	got := componentNames([]component{{"influxdb", run}, {"alerts", run}, {"telemetry", run}, {"collector", run}})
	if want := []string{"collector", "telemetry", "alerts", "influxdb"}; !slices.Equal(got, want) {
		t.Errorf("componentNames = %v, want %v", got, want)
	}
}

// Store conditions carry the process only when the writing roles are
// split over processes (health.Options.Process).
func TestStoreProcessNamesSplitWriters(t *testing.T) {
	for _, c := range []struct {
		r    Roles
		want string
	}{
		{AllRoles, ""},
		{Roles{Collector: true, Analytics: true, Alerts: true}, ""},
		{Roles{Collector: true}, "collector"},
		{Roles{Analytics: true, Alerts: true, Console: true}, "analytics+alerts"},
	} {
		if got := storeProcess(c.r); got != c.want {
			t.Errorf("storeProcess(%s) = %q, want %q", c.r, got, c.want)
		}
	}
}
