package engine

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestReleasedLineHasItsSeries: a line a worker does not hold (yet, or
// any more) is exported as held 0, nothing pending, no lag — a scrape
// never finds a configured line missing (it did, between a worker's start
// and the line's first message: TestMetricsScrapeIntegration).
func TestReleasedLineHasItsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newPartitionMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.release("filling1")
	m.held.WithLabelValues("lyo1").Set(1)
	m.pending.WithLabelValues("lyo1").Set(7)
	m.behind.WithLabelValues("lyo1").Set(3)
	m.release("lyo1")
	want := `
# HELP linewatch_analytics_partition_held 1 while this worker holds the line's lease and analyses it.
# TYPE linewatch_analytics_partition_held gauge
linewatch_analytics_partition_held{line="filling1"} 0
linewatch_analytics_partition_held{line="lyo1"} 0
# HELP linewatch_analytics_partition_lag_seconds How long ago the telemetry the line's engine processes was stored (0 when caught up).
# TYPE linewatch_analytics_partition_lag_seconds gauge
linewatch_analytics_partition_lag_seconds{line="filling1"} 0
linewatch_analytics_partition_lag_seconds{line="lyo1"} 0
# HELP linewatch_analytics_partition_pending_messages TELEMETRY messages of the line not yet analysed by this worker (0 on lines it does not hold).
# TYPE linewatch_analytics_partition_pending_messages gauge
linewatch_analytics_partition_pending_messages{line="filling1"} 0
linewatch_analytics_partition_pending_messages{line="lyo1"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "linewatch_analytics_partition_held",
		"linewatch_analytics_partition_lag_seconds", "linewatch_analytics_partition_pending_messages"); err != nil {
		t.Error(err)
	}
}
