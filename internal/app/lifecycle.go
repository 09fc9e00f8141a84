package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// component is one long-running part. run returns when ctx ends, after
// draining what it holds.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// shutdownOrder is the one place that says in which order components
// stop: in data-flow order, each stage after the one that feeds it has
// returned, so nothing is handed to a component that already stopped.
//
//  1. inputs: the collector (no read reaches its outputs after it
//     returned), the self-metrics copy, the operator console (no new
//     commands).
//  2. outputs of the collector: the JetStream publisher settles its
//     in-flight window. The InfluxDB writer is an output too, but
//     analytics and alerts also write to it, so it stops last.
//  3. analytics, and the findings consumer that feeds a local alerts
//     service from other processes' analytics.
//  4. alerts: alarm service, system alarms, notifications, audit.
//  5. what everybody reports to: the InfluxDB writer (seals its batch,
//     sends for at most its drain timeout, spools the rest), the health
//     publisher, the metrics server.
//
// Every component's name must be here: runAll refuses an unknown one.
var shutdownOrder = [][]string{
	{"collector", "self-metrics", "console"},
	{"telemetry"},
	{"analytics", "findings"},
	{"alerts", "system-alarms", "notify", "audit-checkpoints", "report-sign"},
	{"influxdb", "health", "metrics"},
}

// stageOf maps a component name to its index in shutdownOrder.
func stageOf(name string) (int, bool) {
	for i, names := range shutdownOrder {
		for _, n := range names {
			if n == name {
				return i, true
			}
		}
	}
	return 0, false
}

// componentNames are the components' names in the order they stop.
func componentNames(comps []component) []string {
	var out []string
	for _, names := range shutdownOrder {
		for _, n := range names {
			for _, c := range comps {
				if c.name == n {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// runAll runs components until ctx ends or one returns, then stops them
// stage by stage in shutdownOrder. Each stage is waited for at most
// timeout; a stage that does not stop in time is given up on (and named in
// the error) and the next one is stopped anyway, so the InfluxDB writer
// still spools what it holds.
func runAll(ctx context.Context, log *slog.Logger, timeout time.Duration, comps []component) error {
	stages := make([][]component, len(shutdownOrder))
	seen := map[string]bool{}
	for _, c := range comps {
		i, ok := stageOf(c.name)
		if !ok {
			return fmt.Errorf("component %q has no place in the shutdown order (internal/app/lifecycle.go)", c.name)
		}
		if seen[c.name] {
			return fmt.Errorf("component %q started twice", c.name)
		}
		seen[c.name] = true
		stages[i] = append(stages[i], c)
	}
	type result struct {
		name string
		err  error
	}
	done := make(chan result, len(comps))
	// Each stage has its own context, free of ctx: a stage is cancelled
	// only when the stages before it have returned.
	cancels := make([]context.CancelFunc, len(stages))
	base := context.WithoutCancel(ctx)
	for i, st := range stages {
		sctx, cancel := context.WithCancel(base)
		cancels[i] = cancel
		defer cancel()
		for _, c := range st {
			go func() {
				err := c.run(sctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					err = fmt.Errorf("%s: %w", c.name, err)
				} else {
					err = nil
				}
				done <- result{c.name, err}
			}()
		}
	}

	var errs []error
	stopped := map[string]bool{}
	select {
	case <-ctx.Done():
	case r := <-done:
		stopped[r.name] = true
		if r.err != nil {
			errs = append(errs, r.err)
			log.Error("component failed; shutting down", "component", r.name, "err", r.err)
		} else {
			log.Warn("component stopped; shutting down", "component", r.name)
		}
	}
	for i, st := range stages {
		cancels[i]()
		waiting := 0
		for _, c := range st {
			if !stopped[c.name] {
				waiting++
			}
		}
		deadline := time.NewTimer(timeout)
		for waiting > 0 {
			select {
			case r := <-done:
				stopped[r.name] = true
				if r.err != nil {
					errs = append(errs, r.err)
				}
				if s, _ := stageOf(r.name); s == i {
					waiting--
				}
			case <-deadline.C:
				var stuck []string
				for _, c := range st {
					if !stopped[c.name] {
						stuck = append(stuck, c.name)
					}
				}
				log.Error("shutdown: components did not stop in time; stopping the next ones", "components", stuck, "timeout", timeout)
				errs = append(errs, fmt.Errorf("shutdown: %s did not stop within %s", strings.Join(stuck, ", "), timeout))
				waiting = 0
			}
		}
		deadline.Stop()
	}
	return errors.Join(errs...)
}
