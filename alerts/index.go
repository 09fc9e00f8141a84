package alerts

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// indexRecord keeps the ticker's index current, from this worker's own
// writes and from the bucket watch (other workers); older revisions than
// the one indexed are ignored.
func (s *Service) indexRecord(r record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.index[r.Alarm.ID]
	if r.rev != 0 && r.rev < x.rev {
		return
	}
	x.rev, x.line, x.machine = r.rev, r.Alarm.Line, r.Alarm.Machine
	x.state, x.priority = r.Alarm.State, r.Alarm.Priority
	x.shelvedUntil, x.pendingSince, x.delayedDue = time.Time{}, time.Time{}, r.DelayedDue
	if r.Alarm.State == Shelved {
		x.shelvedUntil = r.Alarm.ShelvedUntil
	}
	if len(r.Pending) > 0 {
		x.pendingSince = r.Pending[0].Time
	}
	s.index[r.Alarm.ID] = x
}

func (s *Service) setPending(id string, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.index[id]
	x.pendingSince = since
	s.index[id] = x
}

// and all non-empty outboxes, including those of other workers.
func (s *Service) watch(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := s.store.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		if err != nil {
			s.log.Warn("alerts: watch alarm bucket", "err", err)
			if wait(ctx, time.Second) != nil {
				return
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			r, err := decodeRecord(e.Value())
			if err != nil {
				s.log.Error("alerts: bad record in bucket", "key", e.Key(), "err", err)
				continue
			}
			r.rev = e.Revision()
			s.indexRecord(r)
		}
		w.Stop()
	}
}
