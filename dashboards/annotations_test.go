package dashboards_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/dashboards"
)

// TestAlarmAnnotationsByPriority: every dashboard that marks alarms has
// one annotation per priority, each in its own colour, showing only
// activations, acknowledgements and clears of its own priority, filtered
// by the dashboard's site, line and machine (issue 18: every event in one
// colour, suppress/unsuppress included); its time range is
// DefaultTimeRange, the one the demo banner names.
func TestAlarmAnnotationsByPriority(t *testing.T) {
	_, gens := generated(t)
	seen := 0
	for _, g := range gens {
		raw, err := json.Marshal(g.Dashboard)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Time struct {
				From string `json:"from"`
			} `json:"time"`
			Annotations struct {
				List []struct {
					Name      string `json:"name"`
					IconColor string `json:"iconColor"`
					Target    struct {
						Query string `json:"query"`
					} `json:"target"`
				} `json:"list"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		if d.Time.From != "now-6h" || dashboards.DefaultTimeRange.Hours() != 6 {
			t.Errorf("%s: time from %q, DefaultTimeRange %v", g.UID, d.Time.From, dashboards.DefaultTimeRange)
		}
		colours := map[string]string{}
		for _, a := range d.Annotations.List {
			p, ok := strings.CutPrefix(a.Name, "Alarms: ")
			if !ok {
				if strings.Contains(a.Target.Query, `FROM "alarms"`) {
					t.Errorf("%s: alarm annotation %q not split by priority", g.UID, a.Name)
				}
				continue
			}
			seen++
			q := a.Target.Query
			for _, want := range []string{`"priority" = '` + p + `'`, `"event" =~ /^(activate|ack|clear)$/`,
				`"site" =~ /^$site$/`, `"line" =~ /^$line$/`, `"machine" =~ /^$machine$/`} {
				if !strings.Contains(q, want) {
					t.Errorf("%s %s: query lacks %s: %s", g.UID, a.Name, want, q)
				}
			}
			if prev, dup := colours[a.IconColor]; dup {
				t.Errorf("%s: %s and %s share colour %s", g.UID, prev, p, a.IconColor)
			}
			colours[a.IconColor] = p
		}
		if len(colours) != 0 && len(colours) != 4 {
			t.Errorf("%s: %d alarm annotations, want 4 (urgent, high, medium, low)", g.UID, len(colours))
		}
	}
	if seen == 0 {
		t.Fatal("no dashboard marks alarms")
	}
}
