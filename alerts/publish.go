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
	if ack.Duplicate {
		return nil // published before; its effects already ran
	}
	s.afterPublish(ctx, tr)
	return nil
}

func (s *Service) afterPublish(ctx context.Context, tr Transition) {
	if s.opts.OnTransition != nil {
		s.opts.OnTransition(tr)
	}
	if s.opts.Points != nil {
		s.opts.Points.WriteAlarm(tr)
	}
	if tr.Event == EvActivate && tr.To == Unacknowledged {
		if ft, start := s.flood.annunciated(tr.Alarm.Site, tr.Alarm.Line, tr.Time); start {
			s.publishFlood(ctx, ft)
		}
	}
}

// publishFlood publishes a flood summary. It is not kept in an outbox: a
// lost summary is reconstructed by the KPI report from the alarms
// themselves.
func (s *Service) publishFlood(ctx context.Context, tr Transition) {
	data, err := json.Marshal(tr)
	if err != nil {
		return
	}
	subj := bus.AlarmSubject(tr.Alarm.Site, tr.Alarm.Line, string(tr.Alarm.Priority))
	pctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := s.js.Publish(pctx, subj, data, jetstream.WithMsgID(tr.ID), jetstream.WithExpectStream(bus.StreamAlarms)); err != nil {
		s.log.Warn("alerts: flood summary not published", "line", tr.Alarm.Line, "event", tr.Event, "err", err)
		return
	}
	s.log.Warn("alerts: "+tr.Alarm.Message, "line", tr.Alarm.Line)
	if s.opts.OnTransition != nil {
		s.opts.OnTransition(tr)
	}
	if s.opts.Points != nil {
		s.opts.Points.WriteAlarm(tr)
	}
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
