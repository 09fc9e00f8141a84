package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
)

// historyPage is the answer of GET /api/history.
type historyPage struct {
	Items []*eventView `json:"items"` // newest first
	// Next is the cursor of the next, older page (0: none).
	Next    uint64 `json:"next"`
	Scanned int    `json:"scanned"`
	Zone    string `json:"zone"`
}

// maxSearch bounds the search text.
const maxSearch = 200

// validName: a line or tag name as config allows it; anything else
// (NATS wildcards, dots, spaces) is refused before it reaches a subject.
func validName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return len(s) <= 128
}

// historyTimeLayouts: what the time-range fields accept. A time without
// a zone (the browser's datetime-local field) is read in the site zone,
// the zone every time on the page is shown in.
var historyTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02"}

// parseHistoryTime reads a time-range field: RFC 3339 (any zone) or a
// layout of historyTimeLayouts in loc.
func parseHistoryTime(field, v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range historyTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q is not a time: use YYYY-MM-DDTHH:MM (site time) or RFC 3339.", field, v)
}

// parseHistory reads the parameters of GET /api/history into a query of
// site's history: ?before=<cursor>&limit=&line=&tag=&priority=&q=<text>
// &from=&to= (the event's time in [from, to), site zone unless given).
// Its error is the message for the user.
func parseHistory(p url.Values, site string, loc *time.Location) (alerts.HistoryQuery, error) {
	q := alerts.HistoryQuery{Site: site, Limit: 50}
	if v := p.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return q, fmt.Errorf("Cursor %q is not a stream sequence.", v)
		}
		q.Before = n
	}
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return q, fmt.Errorf("Limit %q is not a number from 1 to 200.", v)
		}
		q.Limit = n
	}
	line, tag, prio := p.Get("line"), p.Get("tag"), alerts.Priority(p.Get("priority"))
	if !validName(line) || !validName(tag) {
		return q, errors.New("Line and tag are names of letters, digits, _ and -.")
	}
	if _, ok := priorityRank[prio]; prio != "" && !ok {
		return q, fmt.Errorf("Priority %q is not urgent, high, medium or low.", prio)
	}
	text := strings.ToLower(strings.TrimSpace(p.Get("q")))
	if len(text) > maxSearch {
		return q, fmt.Errorf("Search text longer than %d bytes.", maxSearch)
	}
	var from, to time.Time
	for _, f := range []struct {
		name, v string
		t       *time.Time
	}{{"From", p.Get("from"), &from}, {"To", p.Get("to"), &to}} {
		if f.v == "" {
			continue
		}
		t, err := parseHistoryTime(f.name, strings.TrimSpace(f.v), loc)
		if err != nil {
			return q, err
		}
		*f.t = t
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return q, errors.New("From must be before To.")
	}
	q.Line = line
	q.Match = func(t alerts.Transition) bool {
		a := t.Alarm
		if (tag != "" && a.Tag != tag) || (prio != "" && a.Priority != prio) {
			return false
		}
		if (!from.IsZero() && t.Time.Before(from)) || (!to.IsZero() && !t.Time.Before(to)) {
			return false
		}
		return text == "" || matchText(text, a.ID, a.Message, a.Machine, a.Tag, string(t.Event), t.By, t.Reason)
	}
	return q, nil
}

// handleHistory pages back through stream ALARMS, newest first.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request, _ session, _ string) {
	q, err := parseHistory(r.URL.Query(), s.opts.Site, s.fmt.Location())
	if err != nil {
		fail(w, http.StatusBadRequest, alerts.CodeInvalid, err.Error())
		return
	}
	page, err := s.reader.History(r.Context(), q)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		fail(w, http.StatusServiceUnavailable, "no_history", "No alarm history yet: stream ALARMS does not exist (is the alarm service running?).")
		return
	}
	if err != nil {
		s.log.Warn("console: alarm history", "err", err)
		fail(w, http.StatusBadGateway, alerts.CodeInternal, "The alarm history could not be read: "+err.Error())
		return
	}
	out := historyPage{Items: make([]*eventView, 0, len(page.Items)), Next: page.Next, Scanned: page.Scanned, Zone: s.fmt.ZoneLabel(s.clk.Now())}
	for _, it := range page.Items {
		out.Items = append(out.Items, newEventView(it.Transition, it.Seq, s.fmt))
	}
	writeJSON(w, http.StatusOK, out)
}

// matchText: text (lower case) is in one of the fields.
func matchText(text string, fields ...string) bool {
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), text) {
			return true
		}
	}
	return false
}
