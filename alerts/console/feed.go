package console

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/display"
)

// feedEvents is how many recent transitions the event feed keeps.
const feedEvents = 200

// update is one message to browsers.
type update struct {
	Type   string     `json:"type"` // "row", "remove", "event", "status"
	Row    *row       `json:"row,omitempty"`
	Key    string     `json:"key,omitempty"` // of a removed row
	Event  *eventView `json:"event,omitempty"`
	Status string     `json:"status,omitempty"`
}

// snapshot is what a browser gets when it (re)connects.
type snapshot struct {
	Rows   []*row       `json:"rows"`
	Events []*eventView `json:"events"` // oldest first
	Status string       `json:"status"`
	// Machines ("line/machine") for the health strip.
	Machines []string `json:"machines"`
	// Zone labels every time on the page (display.Formatter.ZoneLabel).
	Zone string `json:"zone"`
}

// hub holds the current alarm list and recent transitions and fans updates
// out to SSE clients.
type hub struct {
	mu     sync.Mutex
	fmt    *display.Formatter
	now    func() time.Time
	alarms map[string]alerts.Alarm        // every alarm not in state normal
	keys   map[string]map[string]struct{} // condition key → alarm ids
	rows   map[string]*row                // condition key → its row
	events []*eventView
	status string
	subs   map[chan update]struct{}
	// machines of the plant, for the health strip
	machines []string
}

func newHub(machines []string, f *display.Formatter, now func() time.Time) *hub {
	return &hub{alarms: map[string]alerts.Alarm{}, keys: map[string]map[string]struct{}{}, rows: map[string]*row{},
		subs: map[chan update]struct{}{}, status: "connecting to the alarm service…", fmt: f, now: now,
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
	s := snapshot{Rows: make([]*row, 0, len(h.rows)), Events: slices.Clone(h.events), Status: h.status, Machines: h.machines,
		Zone: h.fmt.ZoneLabel(h.now())}
	for _, r := range h.rows {
		s.Rows = append(s.Rows, r)
	}
	sortRows(s.Rows)
	if s.Events == nil {
		s.Events = []*eventView{}
	}
	return s
}

// alarm returns the current state of an alarm that is not normal.
func (h *hub) alarm(id string) (alerts.Alarm, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.alarms[id]
	return a, ok
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

// put records the state of an alarm; a normal alarm leaves its row.
func (h *hub) put(a alerts.Alarm) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a.State == alerts.Normal {
		h.deleteLocked(a.ID)
		return
	}
	k := conditionKey(a)
	h.alarms[a.ID] = a
	if h.keys[k] == nil {
		h.keys[k] = map[string]struct{}{}
	}
	h.keys[k][a.ID] = struct{}{}
	h.refreshLocked(k)
}

func (h *hub) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deleteLocked(id)
}

func (h *hub) deleteLocked(id string) {
	a, ok := h.alarms[id]
	if !ok {
		return
	}
	delete(h.alarms, id)
	k := conditionKey(a)
	delete(h.keys[k], id)
	h.refreshLocked(k)
}

// refreshLocked rebuilds the row of condition k and sends it (or its
// removal) to every browser.
func (h *hub) refreshLocked(k string) {
	var as []alerts.Alarm
	for id := range h.keys[k] {
		as = append(as, h.alarms[id])
	}
	if len(as) == 0 {
		delete(h.keys, k)
		if _, ok := h.rows[k]; ok {
			delete(h.rows, k)
			h.broadcastLocked(update{Type: "remove", Key: k})
		}
		return
	}
	r := buildRow(k, as, h.fmt)
	h.rows[k] = r
	h.broadcastLocked(update{Type: "row", Row: r})
}

func (h *hub) event(t *alerts.Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := newEventView(*t, 0, h.fmt)
	h.events = append(h.events, ev)
	if len(h.events) > feedEvents {
		h.events = slices.Delete(h.events, 0, len(h.events)-feedEvents)
	}
	h.broadcastLocked(update{Type: "event", Event: ev})
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

// sortRows orders rows as SortAlarms orders alarms (the page re-sorts
// as the operator chooses).
func sortRows(rs []*row) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if rank(a.Priority) != rank(b.Priority) {
			return rank(a.Priority) < rank(b.Priority)
		}
		if a.ActivatedMS != b.ActivatedMS {
			return a.ActivatedMS > b.ActivatedMS
		}
		return a.Key < b.Key
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
	rd := alerts.NewReader(s.js)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		seen := map[string]bool{}
		initial, watching := true, false
		err := rd.Watch(ctx, func(u alerts.AlarmUpdate) {
			watching = true
			switch {
			case u.Synced:
				initial = false
				s.hub.mu.Lock()
				for id := range s.hub.alarms {
					if !seen[id] { // deleted while we were not watching
						s.hub.deleteLocked(id)
					}
				}
				s.hub.mu.Unlock()
				s.hub.setStatus("live")
			case u.Deleted:
				s.hub.removeKey(u.Key)
			case u.Err != nil:
				s.log.Warn("console: bad alarm in bucket", "key", u.Key, "err", u.Err)
			case s.opts.Site != "" && u.Alarm.Site != s.opts.Site:
			default:
				if initial {
					seen[u.Alarm.ID] = true
				}
				s.hub.put(u.Alarm)
			}
		})
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, alerts.ErrNoAlarmState):
			s.hub.setStatus("waiting for the alarm service (no " + alerts.Bucket + " bucket yet)")
		case err != nil:
			s.log.Warn("console: watch alarm bucket", "bucket", alerts.Bucket, "err", err)
			s.hub.setStatus("alarm state unavailable: " + err.Error())
		}
		if watching {
			attempt = 0
		}
		if !wait(ctx, attempt) {
			return
		}
	}
}

// removeKey removes the alarm stored under a bucket key (alerts.Key).
func (h *hub) removeKey(key string) {
	h.mu.Lock()
	var id string
	for k := range h.alarms {
		if alerts.Key(k) == key {
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
	rd := alerts.NewReader(s.js)
	q := alerts.TransitionQuery{Site: s.opts.Site, Since: s.clk.Now().Add(-time.Hour)}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := rd.Follow(ctx, q, func(t alerts.Transition, err error) {
			if err != nil {
				s.log.Warn("console: ALARMS event feed", "err", err)
				return
			}
			s.hub.event(&t)
		})
		if err == nil {
			return // ctx ended
		}
		if ctx.Err() == nil {
			s.log.Debug("console: ALARMS stream not available yet", "err", err)
		}
		if !wait(ctx, attempt) {
			return
		}
	}
}
