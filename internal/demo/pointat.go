package demo

import (
	"time"

	"github.com/linewatch/linewatch/config"
)

// PointAt makes cfg (the demo config) run against the given servers for a
// test or benchmark: data under dir, the given InfluxDB, NATS and
// simulator, every poll group at poll, no listeners, quick reconnects.
func PointAt(cfg *config.Config, dir, influxURL, natsURL, endpoint string, poll time.Duration) {
	cfg.MoveDataDir(dir)
	cfg.InfluxDB.URL = influxURL
	cfg.InfluxDB.FlushInterval = 100 * time.Millisecond
	cfg.NATS.URL = natsURL
	cfg.Collector.MetricsListen = "off"
	cfg.Collector.ReconnectMin = 50 * time.Millisecond
	cfg.Collector.ReconnectMax = 500 * time.Millisecond
	cfg.Console.Listen = "off"
	for li := range cfg.Lines {
		for mi := range cfg.Lines[li].Machines {
			m := &cfg.Lines[li].Machines[mi]
			m.Endpoint = endpoint
			for gi := range m.PollGroups {
				m.PollGroups[gi].Interval = poll
			}
		}
	}
}
