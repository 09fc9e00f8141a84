package app_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/app"
)

// TestMetricsScrapeIntegration: /metrics of a process running every role
// serves the analytics and notification figures beside the collector's,
// and analytics counts the telemetry it processes (linewatch_alarms has
// series once alarms exist: TestAlarmGaugesByStateAndPriority).
func TestMetricsScrapeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB, NATS, the simulator and linewatch")
	}
	p := startPlant(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.cfg.Collector.MetricsListen = l.Addr().String()
	l.Close()
	info, stop := p.run(t, app.AllRoles)
	defer stop()
	scrape := func() string {
		resp, err := http.Get(info.MetricsURL)
		if err != nil {
			return "" // the metrics server may start after OnReady
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	value := func(body, series string) (float64, bool) {
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				return f, err == nil
			}
		}
		return 0, false
	}
	// sum adds a metric's series over all its labels.
	sum := func(body, metric string) (float64, bool) {
		var total float64
		var found bool
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
				continue
			}
			f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err == nil {
				total, found = total+f, true
			}
		}
		return total, found
	}
	deadline := time.Now().Add(30 * time.Second) // real servers: poll
	for {
		body := scrape()
		n, ok := sum(body, "linewatch_analytics_messages_total")
		if ok && n > 0 {
			for _, s := range []string{`linewatch_analytics_partition_lag_seconds{line="filling1"}`, `linewatch_analytics_partition_pending_messages{line="filling1"}`,
				`linewatch_analytics_partition_held{line="filling1"}`,
				`linewatch_notify_sent_total{channel="webhook"}`, `linewatch_notify_failed_total{channel="email"}`} {
				if _, ok := value(body, s); !ok {
					t.Errorf("no %s in /metrics", s)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("analytics processed no telemetry within 30 s:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
