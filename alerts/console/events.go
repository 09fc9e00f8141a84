package console

import (
	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/internal/display"
)

// eventView is one alarm transition as the page shows it (recent events
// and the history view), formatted by the server.
type eventView struct {
	Seq      uint64          `json:"seq,omitempty"` // in stream ALARMS (history only)
	ID       string          `json:"id"`
	Time     string          `json:"time"`
	TimeMS   int64           `json:"time_ms"`
	Event    alerts.Event    `json:"event"`
	From     alerts.State    `json:"from"`
	To       alerts.State    `json:"to"`
	Alarm    string          `json:"alarm"`
	Key      string          `json:"key"` // the summary row (condition)
	Line     string          `json:"line"`
	Machine  string          `json:"machine"`
	Tag      string          `json:"tag"`
	Rule     string          `json:"rule,omitempty"`
	Priority alerts.Priority `json:"priority"`
	Message  string          `json:"message"`
	Value    string          `json:"value,omitempty"`
	By       string          `json:"by,omitempty"`
	Reason   string          `json:"reason,omitempty"`
}

func newEventView(t alerts.Transition, seq uint64, f *display.Formatter) *eventView {
	a := t.Alarm
	v := &eventView{Seq: seq, ID: t.ID, Time: f.Time(t.Time), TimeMS: t.Time.UnixMilli(), Event: t.Event, From: t.From, To: t.To,
		Alarm: a.ID, Key: conditionKey(a), Line: a.Line, Machine: a.Machine, Tag: a.Tag, Rule: a.Rule, Priority: a.Priority,
		Message: a.Message, By: t.By, Reason: t.Reason}
	if a.Detector != alerts.SystemDetector && (t.Event == alerts.EvActivate || t.Event == alerts.EvClear) {
		v.Value = f.FindingValue(a.Line, a.Machine, a.Tag, a.Detector, a.Rule, a.Value)
	}
	return v
}
