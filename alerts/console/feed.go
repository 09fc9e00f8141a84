package console

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// AlarmsBucket is the KV bucket with the current state of every alarm,
// written by the alarm service.
const AlarmsBucket = "LINEWATCH_ALARMS"

// feedEvents is how many recent transitions the event feed keeps.
const feedEvents = 200

// update is one message to browsers.
type update struct {
	Type       string             `json:"type"` // "alarm", "remove", "transition", "status"
	Alarm      *alerts.Alarm      `json:"alarm,omitempty"`
	ID         string             `json:"id,omitempty"`
	Transition *alerts.Transition `json:"transition,omitempty"`
	Status     string             `json:"status,omitempty"`
}

// snapshot is what a browser gets when it (re)connects.
type snapshot struct {
	Alarms []alerts.Alarm       `json:"alarms"`
	Events []*alerts.Transition `json:"events"`
	Status string               `json:"status"`
	// Machines ("line/machine") for the health strip.
	Machines []string `json:"machines"`
}

// hub holds the current alarm list and recent transitions and fans updates
// out to SSE clients.
type hub struct {
	mu     sync.Mutex
	alarms map[string]alerts.Alarm
	events []*alerts.Transition
	status string
	subs   map[chan update]struct{}
	// machines of the plant, for the health strip
	machines []string
}

func newHub(machines []string) *hub {
	return &hub{alarms: map[string]alerts.Alarm{}, subs: map[chan update]struct{}{}, status: "connecting to the alarm service…",
		machines: append([]string{}, machines...)}
}

// subscribe returns the current snapshot and a channel of later updates;
// the channel is closed when the client is too slow (it then reconnects).
func (h *hub) subscribe() (snapshot, chan update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan update, 256)
	h.subs[ch] = struct{}{}
	return h.snapshotLocked(), ch
}

func (h *hub) unsubscribe(ch chan update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

func (h *hub) snapshot() snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshotLocked()
}

func (h *hub) snapshotLocked() snapshot {
	s := snapshot{Alarms: make([]alerts.Alarm, 0, len(h.alarms)), Events: slices.Clone(h.events), Status: h.status, Machines: h.machines}
	for _, a := range h.alarms {
		s.Alarms = append(s.Alarms, a)
	}
	SortAlarms(s.Alarms)
	if s.Events == nil {
		s.Events = []*alerts.Transition{}
	}
	return s
}

func (h *hub) broadcastLocked(u update) {
	for ch := range h.subs {
		select {
		case ch <- u:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

func (h *hub) setStatus(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status != s {
		h.status = s
		h.broadcastLocked(update{Type: "status", Status: s})
	}
}

func (h *hub) put(a alerts.Alarm) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a.State == alerts.Normal {
		if _, ok := h.alarms[a.ID]; ok {
			delete(h.alarms, a.ID)
			h.broadcastLocked(update{Type: "remove", ID: a.ID})
		}
		return
	}
	h.alarms[a.ID] = a
	h.broadcastLocked(update{Type: "alarm", Alarm: &a})
}

func (h *hub) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.alarms[id]; ok {
		delete(h.alarms, id)
		h.broadcastLocked(update{Type: "remove", ID: id})
	}
}

func (h *hub) event(t *alerts.Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, t)
	if len(h.events) > feedEvents {
		h.events = slices.Delete(h.events, 0, len(h.events)-feedEvents)
	}
	h.broadcastLocked(update{Type: "transition", Transition: t})
}

// closeAll ends every SSE stream (shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

var priorityRank = map[alerts.Priority]int{alerts.Urgent: 0, alerts.High: 1, alerts.Medium: 2, alerts.Low: 3}

func rank(p alerts.Priority) int {
	if r, ok := priorityRank[p]; ok {
		return r
	}
	return len(priorityRank)
}

// SortAlarms orders alarms by priority (urgent first), then newest
// activation first, then id.
func SortAlarms(as []alerts.Alarm) {
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if rank(a.Priority) != rank(b.Priority) {
			return rank(a.Priority) < rank(b.Priority)
		}
		if !a.ActivatedAt.Equal(b.ActivatedAt) {
			return a.ActivatedAt.After(b.ActivatedAt)
		}
		return a.ID < b.ID
	})
}

// feedRetry spaces attempts to find the bucket or stream, which the
// alarm service may not have created yet: 250 ms doubling to 5 s. It
// waits on real time: Options.Clock (session expiry) is one tests hold.
var feedRetry = backoff.Policy{Min: 250 * time.Millisecond, Max: 5 * time.Second}

// wait waits before retry attempt+1 of the feed; false when ctx ended.
func wait(ctx context.Context, attempt int) bool {
	return feedRetry.Wait(ctx, clock.Real{}, attempt+1) == nil
}

// watchAlarms keeps the hub's alarm list equal to the KV bucket.
func (s *Server) watchAlarms(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		kv, err := s.js.KeyValue(ctx, AlarmsBucket)
		if err != nil {
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				s.hub.setStatus("waiting for the alarm service (no " + AlarmsBucket + " bucket yet)")
			} else if ctx.Err() == nil {
				s.log.Warn("console: open alarm bucket", "bucket", AlarmsBucket, "err", err)
				s.hub.setStatus("alarm state unavailable: " + err.Error())
			}
			if !wait(ctx, attempt) {
				return
			}
			continue
		}
		attempt = 0
		s.runWatch(ctx, kv)
		if !wait(ctx, 0) {
			return
		}
	}
}

func (s *Server) runWatch(ctx context.Context, kv jetstream.KeyValue) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("console: watch alarm bucket", "err", err)
		}
		return
	}
	defer w.Stop()
	seen := map[string]bool{}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil { // end of the initial values
				initial = false
				s.hub.mu.Lock()
				for id := range s.hub.alarms {
					if !seen[id] { // deleted while we were not watching
						delete(s.hub.alarms, id)
						s.hub.broadcastLocked(update{Type: "remove", ID: id})
					}
				}
				s.hub.mu.Unlock()
				s.hub.setStatus("live")
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				s.hub.removeKey(e.Key())
				continue
			}
			var a alerts.Alarm
			if err := json.Unmarshal(e.Value(), &a); err != nil || a.ID == "" {
				s.log.Warn("console: bad alarm in bucket", "key", e.Key(), "err", err)
				continue
			}
			if s.opts.Site != "" && a.Site != s.opts.Site {
				continue
			}
			if initial {
				seen[a.ID] = true
			}
			s.hub.put(a)
		}
	}
}

// removeKey removes the alarm stored under a KV key ('/' became '.').
func (h *hub) removeKey(key string) {
	h.mu.Lock()
	var id string
	for k := range h.alarms {
		if kvKey(k) == key {
			id = k
		}
	}
	h.mu.Unlock()
	if id != "" {
		h.remove(id)
	}
}

// watchTransitions feeds the event list from the ALARMS stream, starting
// an hour back so a freshly started console shows recent history.
func (s *Server) watchTransitions(ctx context.Context) {
	subject := bus.AlarmsAll
	if s.opts.Site != "" {
		subject = "linewatch.alarms." + s.opts.Site + ".>"
	}
	start := s.clk.Now().Add(-time.Hour)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		cons, err := s.js.OrderedConsumer(ctx, bus.StreamAlarms, jetstream.OrderedConsumerConfig{
			NamePrefix:     bus.OperatorConsumerName(), // unique: consoles never share a name
			FilterSubjects: []string{subject},
			DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
			OptStartTime:   &start,
		})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Debug("console: ALARMS stream not available yet", "err", err)
			}
			if !wait(ctx, attempt) {
				return
			}
			continue
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			var t alerts.Transition
			if err := json.Unmarshal(m.Data(), &t); err != nil || t.ID == "" {
				s.log.Warn("console: bad transition", "subject", m.Subject(), "err", err)
				return
			}
			s.hub.event(&t)
		}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.log.Warn("console: ALARMS event feed", "err", err)
		}))
		if err != nil {
			if !wait(ctx, attempt) {
				return
			}
			continue
		}
		<-ctx.Done()
		cc.Stop()
		<-cc.Closed()
		return
	}
}

func kvKey(id string) string {
	b := []byte(id)
	for i, c := range b {
		if c == '/' {
			b[i] = '.'
		}
	}
	return string(b)
}
