package demo

import (
	"bytes"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

// TestFeedWritesProcessTimeInSiteZone: the live alarm feed shows the
// plant's (simulated) time of a transition with its date and zone, not the
// wall clock's HH:MM:SS (issue 18).
func TestFeedWritesProcessTimeInSiteZone(t *testing.T) {
	for _, c := range []struct{ zone, want string }{
		{"UTC", "2026-07-01 08:00:00 UTC  urgent  activate        normal→unacknowledged      filling1/filler/fill_weight fill_weight hi alarm started\n"},
		{"Europe/Dublin", "2026-07-01 09:00:00 IST  urgent  activate        normal→unacknowledged      filling1/filler/fill_weight fill_weight hi alarm started\n"},
	} {
		var b bytes.Buffer
		fd := newFeed(&b, false, display.MustNew(&config.Config{TimeZone: c.zone}))
		plant := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
		fd.transition(alerts.Transition{Time: plant.Add(6 * time.Hour), ProcessTime: plant, Event: alerts.EvActivate,
			From: alerts.Normal, To: alerts.Unacknowledged, Alarm: alerts.Alarm{Priority: alerts.Urgent,
				Line: "filling1", Machine: "filler", Tag: "fill_weight", Message: "fill_weight hi alarm started"}})
		if b.String() != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.zone, b.String(), c.want)
		}
	}
}
