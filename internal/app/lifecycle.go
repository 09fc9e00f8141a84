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
// stage by stage in shutdownOrder. The stages before the last share one
// timeout; when it runs out, the stuck ones are given up on (and named in
// the error) and the remaining stages are cancelled together. The last
// stage (the InfluxDB writer) always gets a timeout of its own, so it
// spools what it holds: a shutdown takes at most twice timeout (within
// systemd's TimeoutStopSec of docs/deployment.md).
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
	record := func(r result) {
		stopped[r.name] = true
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	select {
	case <-ctx.Done():
	case r := <-done:
		record(r)
		if r.err != nil {
			log.Error("component failed; shutting down", "component", r.name, "err", r.err)
		} else {
			log.Warn("component stopped; shutting down", "component", r.name)
		}
	}
	// waitStage waits until every component of stage i has returned, or
	// timer fires (false).
	waitStage := func(i int, timer <-chan time.Time) bool {
		for _, c := range stages[i] {
			for !stopped[c.name] {
				select {
				case r := <-done:
					record(r)
				case <-timer:
					return false
				}
			}
		}
		return true
	}
	last := len(stages) - 1
	rest := last // first stage still to stop after the loop
	budget := time.NewTimer(timeout)
	defer budget.Stop()
	for i := range last {
		cancels[i]()
		if !waitStage(i, budget.C) {
			rest = i + 1 // out of time: the rest stop together
			break
		}
	}
	for j := rest; j <= last; j++ {
		cancels[j]()
	}
	final := time.NewTimer(timeout)
	defer final.Stop()
	for j := rest; j <= last; j++ {
		if !waitStage(j, final.C) {
			break
		}
	}
	for drained := false; !drained; { // returned meanwhile, not yet counted
		select {
		case r := <-done:
			record(r)
		default:
			drained = true
		}
	}
	var stuck []string
	for _, names := range shutdownOrder {
		for _, n := range names {
			if seen[n] && !stopped[n] {
				stuck = append(stuck, n)
			}
		}
	}
	if len(stuck) > 0 {
		log.Error("shutdown: components did not stop in time", "components", stuck, "timeout", timeout)
		errs = append(errs, fmt.Errorf("shutdown: %s did not stop within %s", strings.Join(stuck, ", "), timeout))
	}
	return errors.Join(errs...)
}
