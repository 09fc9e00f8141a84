package alerts

import (
	"context"
	"slices"
)

// SetMachineState reports a machine's state (from its machine_state tag);
// states in alarms.suppress_when_state suppress its alarms by design. It
// does not block: Run applies the change.
func (s *Service) SetMachineState(line, machine, state string) {
	s.mu.Lock()
	s.machines[line+"/"+machine] = state
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) machineSuppressed(line, machine string) (suppressed, known bool) {
	s.mu.Lock()
	st, ok := s.machines[line+"/"+machine]
	s.mu.Unlock()
	return ok && slices.Contains(s.cfg.Alarms.SuppressWhenState, st), ok
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
