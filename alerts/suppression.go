package alerts

import (
	"context"
	"slices"
	"time"

	"github.com/linewatch/linewatch/analytics"
)

// SetMachineState reports a machine's state (from its machine_state tag);
// states in alarms.suppress_when_state suppress its alarms by design. It
// does not block: Run applies the change.
func (s *Service) SetMachineState(line, machine, state string) {
	s.ApplyMachineState(analytics.MachineState{Line: line, Machine: machine, State: state})
}

// ApplyMachineState is SetMachineState for a change that says when it
// happened (the callback of an analytics engine in this process; changes
// from other processes arrive on FINDINGS, see RunFindings): a change
// older than the one already applied is ignored. A zero Time always
// applies.
func (s *Service) ApplyMachineState(m analytics.MachineState) {
	key := m.Line + "/" + m.Machine
	s.mu.Lock()
	if s.machineAt == nil {
		s.machineAt = map[string]time.Time{}
	}
	if at, ok := s.machineAt[key]; ok && !m.Time.IsZero() && m.Time.Before(at) {
		s.mu.Unlock()
		return
	}
	changed := s.machines[key] != m.State
	s.machines[key] = m.State
	if !m.Time.IsZero() {
		s.machineAt[key] = m.Time
	}
	s.mu.Unlock()
	if !changed {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// machineSuppressed says whether a machine's state suppresses its alarms
// by design: as the engine in this process reported it, else, in a worker
// that consumes FINDINGS, as FINDINGS carried it (SharedBucket, so every
// worker reads the same in the line's order). known is false when neither
// knows the machine.
func (s *Service) machineSuppressed(ctx context.Context, line, machine string) (suppressed, known bool, err error) {
	s.mu.Lock()
	st, ok := s.machines[line+"/"+machine]
	s.mu.Unlock()
	if !ok && s.remoteStates.Load() {
		if st, ok, err = s.remoteMachineState(ctx, line, machine); err != nil {
			return false, false, err
		}
	}
	return ok && slices.Contains(s.cfg.Alarms.SuppressWhenState, st), ok, nil
}

// reconcileSuppression applies every machine's known state to its alarms.
func (s *Service) reconcileSuppression(ctx context.Context) {
	s.mu.Lock()
	var ids []string
	var evs []Event
	for id, r := range s.index {
		st, ok := s.machines[r.line+"/"+r.machine]
		if !ok {
			continue
		}
		ev := EvUnsuppress
		if slices.Contains(s.cfg.Alarms.SuppressWhenState, st) {
			ev = EvSuppress
		}
		ids, evs = append(ids, id), append(evs, ev)
	}
	s.mu.Unlock()
	now := s.clock.Now()
	for i, id := range ids {
		s.apply(ctx, id, Input{Event: evs[i], Role: RoleSystem}, now)
	}
}
