package alerts

import (
	"context"
	"fmt"
	"time"
)

// Tick runs the timers once at the clock's now: shelve expiry, flood end
// and replay of outboxes older than two seconds. Run calls it every
// Options.TickEvery; tests call it after advancing their clock.
func (s *Service) Tick(ctx context.Context) {
	now := s.clock.Now()
	type job struct {
		id   string
		kind int
	}
	const (
		expire = iota
		fire
		replay
	)
	var jobs []job
	s.mu.Lock()
	for id, r := range s.index {
		if !r.shelvedUntil.IsZero() && !now.Before(r.shelvedUntil) {
			jobs = append(jobs, job{id, expire})
		}
		if !r.delayedDue.IsZero() && !now.Before(r.delayedDue) {
			jobs = append(jobs, job{id, fire})
		}
		if !r.pendingSince.IsZero() && now.Sub(r.pendingSince) >= 2*time.Second {
			jobs = append(jobs, job{id, replay})
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		if ctx.Err() != nil {
			return
		}
		switch j.kind {
		case expire:
			s.apply(ctx, j.id, Input{Event: EvShelveExpire, Role: RoleSystem}, now)
		case fire:
			s.settle(ctx, j.id, func() ([]Transition, record, error) { return s.store.fireDelayed(ctx, j.id, now) }, "delayed finding")
		case replay:
			r, _, err := s.store.get(ctx, j.id)
			if err != nil {
				s.log.Warn("alerts: outbox replay", "alarm", j.id, "err", err)
				continue
			}
			s.indexRecord(r)
			s.publishOutbox(ctx, j.id, r.Pending)
		}
	}
	if s.flood.enabled() {
		lines := make([]string, 0, len(s.cfg.Lines))
		for _, l := range s.cfg.Lines {
			lines = append(lines, l.ID)
		}
		for line, site := range s.flood.known(s.cfg.Site, lines) {
			pending, err := s.flood.expire(ctx, site, line, now)
			if err != nil {
				s.log.Warn("alerts: flood end not checked", "line", line, "err", err)
				continue
			}
			s.publishFloods(ctx, site, line, pending)
		}
	}
}

// ReplayOutboxes publishes every transition left unpublished in the bucket
// (by this or a crashed worker). Run calls it at start; Tick replays
// outboxes it learns of from the bucket watch.
func (s *Service) ReplayOutboxes(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, 6*opTimeout)
	recs, err := s.store.records(lctx)
	cancel()
	if err != nil {
		return err
	}
	var failed int
	for _, r := range recs {
		s.indexRecord(r)
		if len(r.Pending) > 0 && !s.publishOutbox(ctx, r.Alarm.ID, r.Pending) {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d alarm(s) still have unpublished transitions; they are retried every %s", failed, s.opts.TickEvery)
	}
	return nil
}

// apply runs one system input.
func (s *Service) apply(ctx context.Context, id string, in Input, now time.Time) {
	s.settle(ctx, id, func() ([]Transition, record, error) { return s.store.apply(ctx, id, nil, []Input{in}, now) }, string(in.Event))
}

// settle runs a timer-driven store change and publishes its outcome; a
// refusal means another worker got there first or the alarm moved on, so
// the index is refreshed from the bucket.
func (s *Service) settle(ctx context.Context, id string, do func() ([]Transition, record, error), what string) {
	_, rec, err := do()
	switch ErrorCode(err) {
	case CodeOK:
		if rec.Alarm.ID != "" {
			s.indexRecord(rec)
			s.publishOutbox(ctx, id, rec.Pending)
		}
	case CodeNoChange, CodeNotShelved, CodeIllegal, CodeDuplicate:
		if r, _, gerr := s.store.get(ctx, id); gerr == nil {
			s.indexRecord(r)
		}
	default:
		s.log.Warn("alerts: system input not applied", "alarm", id, "input", what, "err", err)
	}
}
