package console

import (
	"slices"
	"sort"
	"strings"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/internal/display"
)

// The alarm summary shows one row per condition (ISA-101): the limit
// levels of one tag (lo/hi/lolo/hihi are separate alarms, see
// alerts.AlarmID) share a row, which shows the most severe active level;
// an escalation from hi to hihi changes the row instead of adding one.

// levelRank orders the limit levels that share a row, most severe first.
var levelRank = map[string]int{"hihi": 0, "lolo": 0, "hi": 1, "lo": 1}

// conditionKey is the row an alarm belongs to: its id without the limit
// level.
func conditionKey(a alerts.Alarm) string {
	if _, ok := levelRank[a.Rule]; ok {
		return strings.TrimSuffix(a.ID, "/"+a.Rule)
	}
	return a.ID
}

// commandVerbs are the verbs the console sends; alerts.Actions decides
// which of them a role may use on an alarm.
var commandVerbs = map[string]bool{alerts.VerbAck: true, alerts.VerbShelve: true, alerts.VerbUnshelve: true,
	alerts.VerbReset: true, alerts.VerbComment: true}

// member is one alarm of a row.
type member struct {
	ID       string          `json:"id"`
	Rule     string          `json:"rule,omitempty"`
	Priority alerts.Priority `json:"priority"`
	State    alerts.State    `json:"state"`
	Active   bool            `json:"active"`
	Value    string          `json:"value,omitempty"`
}

// row is one line of the alarm summary, with every value and time
// formatted for people (display.Formatter) by the server.
type row struct {
	Key       string          `json:"key"`
	ID        string          `json:"id"` // the lead alarm: the one shown
	Site      string          `json:"site"`
	Line      string          `json:"line"`
	Machine   string          `json:"machine"`
	Tag       string          `json:"tag"`
	Detector  string          `json:"detector"`
	Rule      string          `json:"rule,omitempty"`
	Priority  alerts.Priority `json:"priority"`
	State     alerts.State    `json:"state"`
	Active    bool            `json:"active"`
	Unack     bool            `json:"unack"` // some member awaits acknowledgement
	Message   string          `json:"message"`
	Value     string          `json:"value,omitempty"`
	Limit     string          `json:"limit,omitempty"`
	Activated string          `json:"activated"`
	// ActivatedMS orders rows by time (ms since 1970).
	ActivatedMS  int64  `json:"activated_ms"`
	Cleared      string `json:"cleared,omitempty"`
	AckedBy      string `json:"acked_by,omitempty"`
	Acked        string `json:"acked,omitempty"`
	ShelvedBy    string `json:"shelved_by,omitempty"`
	ShelveReason string `json:"shelve_reason,omitempty"`
	ShelvedUntil string `json:"shelved_until,omitempty"`
	OOSBy        string `json:"out_of_service_by,omitempty"`
	OOSReason    string `json:"out_of_service_reason,omitempty"`
	Chattering   bool   `json:"chattering,omitempty"`
	// Members: every alarm of the condition that is not normal, lead first.
	Members []member `json:"members"`
	// Actions: verb → the member ids it applies to, for the viewer's role
	// (set per viewer by withActions; empty for those who may only view).
	Actions map[string][]string `json:"actions,omitempty"`

	alarms []alerts.Alarm // members, lead first
}

func prioRank(p alerts.Priority) int { return rank(p) }

func level(a alerts.Alarm) int {
	if r, ok := levelRank[a.Rule]; ok {
		return r
	}
	return 2
}

// leadFirst orders a condition's alarms: active before cleared, then
// priority, then the more severe limit level, then the newest.
func leadFirst(as []alerts.Alarm) {
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if a.Active != b.Active {
			return a.Active
		}
		if prioRank(a.Priority) != prioRank(b.Priority) {
			return prioRank(a.Priority) < prioRank(b.Priority)
		}
		if level(a) != level(b) {
			return level(a) < level(b)
		}
		if !a.ActivatedAt.Equal(b.ActivatedAt) {
			return a.ActivatedAt.After(b.ActivatedAt)
		}
		return a.ID < b.ID
	})
}

func needsAck(s alerts.State) bool { return s == alerts.Unacknowledged || s == alerts.RTNUnack }

// buildRow makes the row of a condition from its alarms (none normal).
func buildRow(key string, as []alerts.Alarm, f *display.Formatter) *row {
	as = append([]alerts.Alarm(nil), as...)
	leadFirst(as)
	a := as[0]
	value := func(x alerts.Alarm, v float64) string {
		if x.Detector == alerts.SystemDetector {
			return ""
		}
		return f.FindingValue(x.Line, x.Machine, x.Tag, x.Detector, x.Rule, v)
	}
	limit := func(x alerts.Alarm, v float64) string {
		if x.Detector == alerts.SystemDetector {
			return ""
		}
		return f.FindingLimit(x.Line, x.Machine, x.Tag, x.Detector, x.Rule, v)
	}
	r := &row{Key: key, ID: a.ID, Site: a.Site, Line: a.Line, Machine: a.Machine, Tag: a.Tag, Detector: a.Detector, Rule: a.Rule,
		Priority: a.Priority, State: a.State, Active: a.Active, Message: a.Message,
		Value: value(a, a.Value), Limit: limit(a, a.Limit),
		Activated: f.Time(a.ActivatedAt), ActivatedMS: a.ActivatedAt.UnixMilli(), AckedBy: a.AckedBy,
		ShelvedBy: a.ShelvedBy, ShelveReason: a.ShelveReason, OOSBy: a.OutOfServiceBy, OOSReason: a.OutOfServiceReason,
		Chattering: a.Chattering, alarms: as}
	if a.ActivatedAt.IsZero() {
		r.ActivatedMS = a.UpdatedAt.UnixMilli()
	}
	if !a.ClearedAt.IsZero() && !a.Active {
		r.Cleared = f.Time(a.ClearedAt)
	}
	if !a.AckedAt.IsZero() {
		r.Acked = f.Time(a.AckedAt)
	}
	if !a.ShelvedUntil.IsZero() {
		r.ShelvedUntil = f.Time(a.ShelvedUntil)
	}
	for _, x := range as {
		r.Unack = r.Unack || needsAck(x.State)
		r.Members = append(r.Members, member{ID: x.ID, Rule: x.Rule, Priority: x.Priority, State: x.State, Active: x.Active, Value: value(x, x.Value)})
	}
	return r
}

// withActions returns a copy of r with the actions a user of role may
// take (none when the user cannot command). Ack, reset and unshelve go to
// every level of the condition that accepts them; Shelve is offered only
// when every level may be shelved by this role (an operator may not shelve
// the urgent hihi of a row, so the row is not offered Shelve at all); a
// comment goes on the lead alarm.
func (r *row) withActions(role string, canCommand bool) row {
	v := *r
	v.Actions = nil
	if !canCommand {
		return v
	}
	acts := map[string][]string{}
	shelveAll := true
	for i, a := range r.alarms {
		allowed := alerts.Actions(a, role)
		if !slices.Contains(allowed, alerts.VerbShelve) {
			shelveAll = false
		}
		for _, verb := range allowed {
			if !commandVerbs[verb] || (verb == alerts.VerbComment && i > 0) {
				continue
			}
			acts[verb] = append(acts[verb], a.ID)
		}
	}
	if !shelveAll {
		delete(acts, alerts.VerbShelve)
	}
	if len(acts) > 0 {
		v.Actions = acts
	}
	return v
}
