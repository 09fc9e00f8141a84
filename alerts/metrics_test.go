package alerts

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAlarmGaugesByStateAndPriority: linewatch_alarms counts the indexed
// alarms by state and priority, and follows a record's new state.
func TestAlarmGaugesByStateAndPriority(t *testing.T) {
	s := &Service{index: map[string]indexRec{}}
	for i, a := range []Alarm{
		{ID: "a", State: Unacknowledged, Priority: Urgent},
		{ID: "b", State: Unacknowledged, Priority: Urgent},
		{ID: "c", State: Shelved, Priority: Medium},
		{ID: "d", State: Normal, Priority: Low},
	} {
		s.indexRecord(record{Alarm: a, rev: uint64(i + 1)})
	}
	s.indexRecord(record{Alarm: Alarm{ID: "b", State: Acknowledged, Priority: Urgent}, rev: 9})
	want := `# HELP linewatch_alarms Alarm points by ISA-18.2 state and priority (every worker's view of the alarm bucket).
# TYPE linewatch_alarms gauge
linewatch_alarms{priority="low",state="normal"} 1
linewatch_alarms{priority="medium",state="shelved"} 1
linewatch_alarms{priority="urgent",state="acknowledged"} 1
linewatch_alarms{priority="urgent",state="unacknowledged"} 1
`
	if err := testutil.CollectAndCompare(s.Metrics(), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
