package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/linewatch/linewatch/analytics"
)

// LineFeed is the notifier of an analytics engine in this process for
// one line (set engine.Options.MachineState to its MachineState). Like
// engine.Publisher for alerts in another process, it keeps the engine's
// machine-state changes until Notify, which applies them and the
// findings of the same telemetry message in process-time order
// (analytics.ProcessOrder), each before it returns: suppression by
// design is decided alike in one process and across processes, and
// never races the findings around it.
type LineFeed struct {
	s *Service

	mu      sync.Mutex
	pending []analytics.MachineState
}

// LineFeed makes the notifier of one line's engine in this process.
func (s *Service) LineFeed() *LineFeed { return &LineFeed{s: s} }

// MachineState queues a machine-state change (the engine's callback).
func (l *LineFeed) MachineState(m analytics.MachineState) {
	l.mu.Lock()
	l.pending = append(l.pending, m)
	l.mu.Unlock()
}

// Pending reports queued machine-state changes: Live calls Notify after a
// telemetry message that left some, even without findings.
func (l *LineFeed) Pending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) > 0
}

// Notify applies the queued machine-state changes and fs in process-time
// order. A state that cannot be applied (the alarm store unavailable)
// stays queued and Notify returns the error: the engine calls it again
// with the same findings, and those applied before are recognised as
// duplicates. It returns the errors of findings that could not be applied.
func (l *LineFeed) Notify(ctx context.Context, fs []analytics.Finding) error {
	l.mu.Lock()
	states := append([]analytics.MachineState(nil), l.pending...)
	l.mu.Unlock()
	var errs []error
	for _, m := range analytics.ProcessOrder(states, fs) {
		if m.Finding != nil {
			if err := l.s.notifyOne(ctx, *m.Finding, 0); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := l.s.applyLocalMachineState(ctx, *m.MachineState); err != nil {
			return errors.Join(append(errs, err)...)
		}
		l.mu.Lock()
		l.pending = l.pending[1:]
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}

// applyLocalMachineState records a machine-state change of the engine in
// this process and applies it to every alarm of the machine before
// returning (an older change than the one recorded is ignored).
func (s *Service) applyLocalMachineState(ctx context.Context, m analytics.MachineState) error {
	key := m.Line + "/" + m.Machine
	s.mu.Lock()
	if s.machineAt == nil {
		s.machineAt = map[string]time.Time{}
	}
	if at, ok := s.machineAt[key]; ok && !m.Time.IsZero() && m.Time.Before(at) {
		s.mu.Unlock()
		return nil
	}
	s.machines[key] = m.State
	if !m.Time.IsZero() {
		s.machineAt[key] = m.Time
	}
	s.mu.Unlock()
	site := m.Site
	if site == "" {
		site = s.cfg.Site
	}
	if err := s.applyStateToAlarms(ctx, site, m); err != nil {
		return fmt.Errorf("machine state of %s/%s: %w", m.Line, m.Machine, err)
	}
	return nil
}
