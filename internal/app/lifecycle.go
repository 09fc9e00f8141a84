package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// component is one long-running part. run returns when ctx ends, after
// draining what it holds.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// runAll runs components until ctx ends or one fails, then cancels the rest
// and waits for them at most timeout.
func runAll(ctx context.Context, log *slog.Logger, timeout time.Duration, comps []component) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	done := make(chan result, len(comps))
	for _, c := range comps {
		go func() {
			err := c.run(cctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				err = fmt.Errorf("%s: %w", c.name, err)
			} else {
				err = nil
			}
			done <- result{c.name, err}
		}()
	}
	var first error
	remaining := len(comps)
	select {
	case <-ctx.Done():
	case r := <-done:
		remaining--
		first = r.err
		if r.err != nil {
			log.Error("component failed; shutting down", "component", r.name, "err", r.err)
		} else {
			log.Warn("component stopped; shutting down", "component", r.name)
		}
	}
	cancel()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for remaining > 0 {
		select {
		case r := <-done:
			remaining--
			if r.err != nil && first == nil {
				first = r.err
			}
		case <-deadline.C:
			return fmt.Errorf("shutdown: %d component(s) did not stop within %s", remaining, timeout)
		}
	}
	return first
}
