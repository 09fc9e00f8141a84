package alerts

import "github.com/prometheus/client_golang/prometheus"

var alarmsDesc = prometheus.NewDesc("linewatch_alarms",
	"Alarm points by ISA-18.2 state and priority (every worker's view of the alarm bucket).",
	[]string{"state", "priority"}, nil)

// Metrics is the Prometheus collector of the alarm gauges
// (linewatch_alarms{state,priority}), counted from the index the bucket
// watch keeps current; normal alarms are counted too, so a dashboard can
// show the share of alarms standing.
func (s *Service) Metrics() prometheus.Collector { return alarmCollector{s} }

type alarmCollector struct{ s *Service }

func (c alarmCollector) Describe(ch chan<- *prometheus.Desc) { ch <- alarmsDesc }

func (c alarmCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct {
		state    State
		priority Priority
	}
	n := map[key]int{}
	c.s.mu.Lock()
	for _, x := range c.s.index {
		if x.state != "" {
			n[key{x.state, x.priority}]++
		}
	}
	c.s.mu.Unlock()
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(alarmsDesc, prometheus.GaugeValue, float64(v), string(k.state), string(k.priority))
	}
}
