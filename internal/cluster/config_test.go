package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/cluster"
)

// A rendered config is the demo's with every process setting applied,
// and config.Parse accepts it.
func TestRenderConfig(t *testing.T) {
	b, err := cluster.RenderConfig(cluster.ConfigOptions{DataDir: "/d", ProcDir: "/p/alerts-1", InfluxURL: "http://127.0.0.1:1",
		NATSURLs: "nats://127.0.0.1:2,nats://127.0.0.1:3", Replicas: 3, Endpoint: "opc.tcp://127.0.0.1:4", Poll: 100 * time.Millisecond,
		Set: map[string]any{"alarms.flood.threshold": 2, "alarms.flood.end_below": 1}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(b, "rendered.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/d" || cfg.NATS.URL != "nats://127.0.0.1:2,nats://127.0.0.1:3" || cfg.NATS.Replicas != 3 ||
		cfg.InfluxDB.Spool.Dir != "/p/alerts-1/spool" || cfg.Alarms.Flood.Threshold != 2 || cfg.Console.Listen != "off" {
		t.Errorf("rendered: data_dir %q nats %q replicas %d spool %q flood %d console %q", cfg.DataDir, cfg.NATS.URL,
			cfg.NATS.Replicas, cfg.InfluxDB.Spool.Dir, cfg.Alarms.Flood.Threshold, cfg.Console.Listen)
	}
	for _, l := range cfg.Lines {
		for _, m := range l.Machines {
			if m.Endpoint != "opc.tcp://127.0.0.1:4" {
				t.Errorf("%s/%s endpoint %q", l.ID, m.ID, m.Endpoint)
			}
			for _, g := range m.PollGroups {
				if g.Interval != 100*time.Millisecond {
					t.Errorf("%s/%s poll group %s every %s", l.ID, m.ID, g.Name, g.Interval)
				}
			}
		}
	}
	if _, err := cluster.RenderConfig(cluster.ConfigOptions{Set: map[string]any{"site.x": 1}}); err == nil || !strings.Contains(err.Error(), "not a mapping") {
		t.Errorf("a setting under a scalar: %v", err)
	}
}
