package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

// TestEmailTextUsesFormatter: the e-mail writes the alarm's value and
// limit with the tag's unit and decimals, and its process and recording
// times in the site zone (issue 18: "Value: 9.731630066159267 (limit 10)").
func TestEmailTextUsesFormatter(t *testing.T) {
	one := 1
	fm := display.MustNew(&config.Config{TimeZone: "Europe/Dublin", Lines: []config.Line{{ID: "L1", Machines: []config.Machine{
		{ID: "cold", Tags: []config.Tag{{Name: "temp", Unit: "°C", Decimals: &one}}}}}}})
	plant := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	tr := alerts.Transition{ID: "s/L1/cold/temp/limits/hi#1", Time: plant.Add(6 * time.Hour), ProcessTime: plant, Event: alerts.EvActivate,
		Alarm: alerts.Alarm{ID: "s/L1/cold/temp/limits/hi", Line: "L1", Machine: "cold", Tag: "temp", Priority: alerts.Urgent,
			State: alerts.Unacknowledged, Value: 9.731630066159267, Limit: 10, Message: "m"}}
	for _, c := range []struct {
		fm   *display.Formatter
		want []string
	}{
		{fm, []string{"Value: 9.7 °C (limit 10.0 °C)\n", "Time: 2026-07-01 09:00:00 IST (recorded 2026-07-01 15:00:00 IST)\n"}},
		{nil, []string{"Value: 9.73 (limit 10.00)\n", "Time: 2026-07-01 08:00:00 UTC (recorded 2026-07-01 14:00:00 UTC)\n"}},
	} {
		_, body := emailText(Payload{Transition: &tr, Kind: KindTransition, Route: "ops"}, c.fm)
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("body lacks %q:\n%s", w, body)
			}
		}
	}
}
