package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// Notify applies findings in order. Transient NATS errors are retried with
// a delay until ctx ends, so a finding is never half applied; duplicates
// and replays are ignored. It returns the errors of findings that could
// not be applied.
func (s *Service) Notify(ctx context.Context, fs []analytics.Finding) error {
	var errs []error
	for _, f := range fs {
		if err := s.notifyOne(ctx, f, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// notifyOne applies f, which is message seq of stream FINDINGS (0: not
// from FINDINGS). Every outcome is counted; a finding refused as older
// than the alarm's last one is logged: never dropped silently.
func (s *Service) notifyOne(ctx context.Context, f analytics.Finding, seq uint64) error {
	if f.ID == "" {
		f.ID = analytics.MakeID(f)
	}
	f.Time = f.Time.UTC()
	id := AlarmID(s.cfg.Site, f)
	init := func() Alarm { return NewAlarm(s.cfg, f) }
	delay := s.delayFor(f)
	for attempt := 1; ; attempt++ {
		var pre []Input
		sup, known, err := s.machineSuppressed(ctx, f.Line, f.Machine)
		if known {
			ev := EvUnsuppress
			if sup {
				ev = EvSuppress
			}
			pre = append(pre, Input{Event: ev, Role: RoleSystem})
		}
		if err == nil {
			var rec record
			_, rec, err = s.store.applyFinding(ctx, id, init, pre, f, seq, delay, s.clock.Now())
			if err == nil || (rec.Alarm.ID != "" && len(rec.Pending) > 0) {
				// Applied, or refused with an outbox still waiting (a
				// worker that died before publishing what it applied).
				s.indexRecord(rec)
				s.publishOutbox(ctx, id, rec.Pending)
			}
			if err == nil {
				s.count(outcomeApplied)
				return nil
			}
		}
		switch code := ErrorCode(err); code {
		case CodeRedelivered:
			s.count(outcomeRedelivered)
			s.log.Debug("finding already applied (redelivered)", "finding", f.ID, "alarm", id, "seq", seq)
			return nil
		case CodeSuperseded:
			s.count(outcomeSuperseded)
			s.log.Warn("alerts: finding superseded: older than the last one applied to its alarm; not applied", "finding", f.ID, "alarm", id, "seq", seq, "time", f.Time, "why", err)
			return nil
		case CodeDuplicate, CodeNoChange:
			s.count(code)
			s.log.Debug("finding ignored", "finding", f.ID, "alarm", id, "why", err)
			return nil
		case CodeInternal:
		default:
			return fmt.Errorf("finding %s for alarm %s: %w", f.ID, id, err)
		}
		s.log.Warn("alarm store unavailable, retrying", "alarm", id, "finding", f.ID, "attempt", attempt, "err", err)
		if werr := wait(ctx, retryDelay(attempt)); werr != nil {
			return fmt.Errorf("finding %s for alarm %s not applied: %w (last error: %v)", f.ID, id, werr, err)
		}
	}
}

// delayFor is the ISA-18.2 on-delay (activation) or off-delay (clear) of
// a finding: the tag's alarm.on_delay / alarm.off_delay, else
// alarms.on_delay / alarms.off_delay.
func (s *Service) delayFor(f analytics.Finding) time.Duration {
	if f.Detector == SystemDetector {
		return 0 // the reporting component applies its own delay (e.g. collector.comm_loss_alarm_delay)
	}
	d, tagD := s.cfg.Alarms.OffDelay, (*time.Duration)(nil)
	ref, ok := s.cfg.Tag(f.Line, f.Machine, f.Tag)
	if f.Active {
		d = s.cfg.Alarms.OnDelay
		if ok {
			tagD = ref.Tag.Alarm.OnDelay
		}
	} else if ok {
		tagD = ref.Tag.Alarm.OffDelay
	}
	if tagD != nil {
		d = *tagD
	}
	return d
}

// retryDelay spaces retries of the alarm store: 100 ms more each
// attempt, at most 2 s (on real time: the service's clock is one tests hold).
func retryDelay(attempt int) time.Duration {
	return backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second, Linear: true}.Delay(attempt)
}

func wait(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, clock.Real{}, d) }
