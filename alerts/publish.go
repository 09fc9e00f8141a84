package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
)

// publishOutbox publishes an alarm's unpublished transitions in order and
// then drops them from the record. A failure leaves them in the outbox;
// Tick replays them (with the same Nats-Msg-Id, so JetStream drops any
// that did arrive).
func (s *Service) publishOutbox(ctx context.Context, id string, outbox []Transition) bool {
	var last uint64
	for _, tr := range outbox {
		if err := s.publishOne(ctx, tr); err != nil {
			s.log.Warn("alerts: transition not yet published, will retry", "transition", tr.ID, "err", err)
			s.setPending(id, outbox[0].Time)
			return false
		}
		last = tr.Seq
	}
	if len(outbox) == 0 {
		// nothing pending (any more): fall through to clear the index
	} else if err := s.markPublished(ctx, id, last); err != nil {
		s.log.Warn("alerts: outbox not cleared, will retry", "alarm", id, "err", err)
		s.setPending(id, outbox[0].Time)
		return false
	}
	s.setPending(id, time.Time{})
	s.mu.Lock()
	for _, tr := range outbox {
		delete(s.audited, tr.ID)
	}
	s.mu.Unlock()
	return true
}

// markPublished clears what was published from the outbox. It finishes
// even when ctx was cancelled meanwhile (shutdown): left in the outbox, a
// transition published long before the next start would be published
// again after JetStream's duplicate window.
func (s *Service) markPublished(ctx context.Context, id string, last uint64) error {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	return s.store.markPublished(mctx, id, last)
}

// publishOne audits a person-caused transition, then publishes it on
// ALARMS and waits for the stream's ack.
func (s *Service) publishOne(ctx context.Context, tr Transition) error {
	if tr.By != "" {
		s.mu.Lock()
		done := s.audited[tr.ID]
		s.mu.Unlock()
		if !done {
			actx, cancel := context.WithTimeout(ctx, 2*opTimeout)
			_, err := s.audit.Append(actx, auditEntry(tr))
			cancel()
			if err != nil {
				return fmt.Errorf("audit %s: %w", tr.ID, err)
			}
			s.mu.Lock()
			s.audited[tr.ID] = true
			s.mu.Unlock()
		}
	}
	data, err := json.Marshal(tr)
	if err != nil {
		return err
	}
	subj := bus.AlarmSubject(tr.Alarm.Site, tr.Alarm.Line, string(tr.Alarm.Priority))
	pctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ack, err := s.js.Publish(pctx, subj, data, jetstream.WithMsgID(tr.ID), jetstream.WithExpectStream(bus.StreamAlarms))
	if err != nil {
		return fmt.Errorf("publish %s on %s: %w", tr.ID, subj, err)
	}
	if !ack.Duplicate {
		s.afterPublish(tr) // else published before; these effects already ran
	}
	// Counted even for a duplicate (its publisher may have died before
	// counting it): the shared count knows each transition once.
	if tr.Event == EvActivate && tr.To == Unacknowledged {
		s.countFlood(ctx, tr)
	}
	return nil
}

func (s *Service) afterPublish(tr Transition) {
	if s.opts.OnTransition != nil {
		s.opts.OnTransition(tr)
	}
	if s.opts.Points != nil {
		s.opts.Points.WriteAlarm(tr)
	}
}

// countFlood adds an annunciated activation to its line's shared flood
// count and publishes the summary it decides. A failure is logged: the
// KPI report reconstructs floods from the alarms themselves.
func (s *Service) countFlood(ctx context.Context, tr Transition) {
	pending, err := s.flood.annunciated(ctx, tr)
	if err != nil {
		s.log.Warn("alerts: flood count not updated", "transition", tr.ID, "err", err)
		return
	}
	s.publishFloods(ctx, tr.Alarm.Site, tr.Alarm.Line, pending)
}

// publishFloods publishes a line's decided flood summaries (deterministic
// Nats-Msg-Id: a summary another worker published is a duplicate) and
// drops them from the shared record; on failure they stay there for
// the next Tick.
func (s *Service) publishFloods(ctx context.Context, site, line string, pending []Transition) {
	if len(pending) == 0 {
		return
	}
	var done []string
	for _, tr := range pending {
		if err := s.publishFlood(ctx, tr); err != nil {
			s.log.Warn("alerts: flood summary not published yet, will retry", "line", tr.Alarm.Line, "event", tr.Event, "err", err)
			break
		}
		done = append(done, tr.ID)
	}
	if len(done) > 0 {
		if err := s.flood.published(context.WithoutCancel(ctx), site, line, done); err != nil {
			s.log.Warn("alerts: flood summary published but not cleared from the shared count; it is republished as a duplicate", "line", line, "err", err)
		}
	}
}

// publishFlood publishes a flood summary on ALARMS.
func (s *Service) publishFlood(ctx context.Context, tr Transition) error {
	data, err := json.Marshal(tr)
	if err != nil {
		return err
	}
	subj := bus.AlarmSubject(tr.Alarm.Site, tr.Alarm.Line, string(tr.Alarm.Priority))
	pctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ack, err := s.js.Publish(pctx, subj, data, jetstream.WithMsgID(tr.ID), jetstream.WithExpectStream(bus.StreamAlarms))
	if err != nil {
		return fmt.Errorf("publish %s: %w", tr.ID, err)
	}
	if ack.Duplicate {
		return nil
	}
	s.metrics.floods.WithLabelValues(string(tr.Event)).Inc()
	s.log.Warn("alerts: "+tr.Alarm.Message, "line", tr.Alarm.Line)
	s.afterPublish(tr)
	return nil
}

// auditEntry records a person-caused transition; Object is the transition
// id, which ties the entry to its message on ALARMS.
func auditEntry(tr Transition) audit.Entry {
	nv := string(tr.To)
	if tr.Event == EvShelve {
		nv += " until " + tr.Alarm.ShelvedUntil.Format(time.RFC3339)
	}
	return audit.Entry{
		Time: tr.Time, Actor: tr.By, Action: audit.ActionAlarmPrefix + string(tr.Event),
		Object: tr.ID, Old: string(tr.From), New: nv, Reason: tr.Reason,
	}
}
