// Command pipelinebench measures the CPU the whole pipeline spends per
// value: the collector, analytics and alerts each a `linewatch run
// --roles X` process, and the three nats-server nodes (JetStream R3) that
// carry the values, on the simulator's synthetic tags polled every second
// (docs/performance.md). CPU is user + system time from /proc/PID/stat of
// every one of those processes over the measured window; values are the
// values on TELEMETRY in that window. The simulator and InfluxDB are not
// counted (they stand for the plant and the database).
//
//	go run ./internal/cmd/pipelinebench -tags 10000 -duration 30s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/cluster"
)

func main() {
	tags := flag.Int("tags", 10000, "synthetic tags polled")
	machines := flag.Int("machines", 10, "machines (OPC UA sessions, one TELEMETRY message per machine per read)")
	interval := flag.Duration("interval", time.Second, "poll interval")
	warmup := flag.Duration("warmup", 15*time.Second, "time before measuring")
	duration := flag.Duration("duration", 30*time.Second, "measured window")
	dir := flag.String("dir", "", "work dir (default a temp dir, removed)")
	flag.Parse()
	if err := run(*tags, *machines, *interval, *warmup, *duration, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "pipelinebench:", err)
		os.Exit(1)
	}
}

// baseConfig: one line of machines sharing the synthetic tags, every tag
// with limits (one detector per value in analytics).
func baseConfig(n, machines int) []byte {
	var b strings.Builder
	b.WriteString("site: bench\ndata_dir: x\ncollector: {request_timeout: 30s}\nlines:\n  - id: load\n    machines:\n")
	for k := range machines {
		from, to := k*n/machines+1, (k+1)*n/machines
		fmt.Fprintf(&b, "      - id: sim%d\n        endpoint: opc.tcp://127.0.0.1:1\n        max_nodes_per_read: 1000\n        poll_groups:\n          - name: all\n            interval: 1s\n            tags: [", k+1)
		for i := from; i <= to; i++ {
			if i > from {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "t%05d", i)
		}
		b.WriteString("]\n        tags:\n")
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "          - {name: t%05d, node_id: \"ns=2;s=synthetic.load.tag%05d\", unit: u, limits: {lo: -1000000, hi: 1000000}}\n", i, i)
		}
	}
	return []byte(b.String())
}

func run(n, machines int, interval, warmup, duration time.Duration, dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if dir == "" {
		d, err := os.MkdirTemp("", "pipelinebench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	p, err := cluster.Start(ctx, cluster.Options{Dir: dir, Speed: 1, Poll: interval, ExtraTags: n, Base: baseConfig(n, machines)})
	if err != nil {
		return err
	}
	defer p.Close()
	procs := map[string]*cluster.Proc{}
	for i, r := range []string{"collector", "analytics", "alerts"} {
		pr, err := p.Run(r, r, nil)
		if err != nil {
			return err
		}
		procs[r] = pr
		if i == 0 {
			if err := cluster.Eventually(ctx, "streams", time.Minute, func() bool {
				_, err := p.StreamInfo(ctx, bus.StreamFindings)
				return err == nil
			}); err != nil {
				return err
			}
		}
	}
	time.Sleep(warmup)
	type pidCPU struct {
		name string
		pid  int
		cpu  time.Duration
	}
	sample := func() ([]pidCPU, uint64, error) {
		var out []pidCPU
		for _, r := range []string{"collector", "analytics", "alerts"} {
			out = append(out, pidCPU{name: r, pid: procs[r].PID()})
		}
		for _, nd := range p.Cluster.Nodes {
			out = append(out, pidCPU{name: "nats " + nd.Name, pid: nd.PID()})
		}
		for i := range out {
			c, err := cluster.ProcCPU(out[i].pid)
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %w", out[i].name, err)
			}
			out[i].cpu = c
		}
		info, err := p.StreamInfo(ctx, bus.StreamTelemetry)
		if err != nil {
			return nil, 0, err
		}
		return out, info.State.Msgs, nil
	}
	a, m0, err := sample()
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(duration)
	b, m1, err := sample()
	if err != nil {
		return err
	}
	wall := time.Since(t0)
	// Each TELEMETRY message is one machine's read: n/machines values.
	values := float64(m1-m0) * float64(n) / float64(machines)
	if values == 0 {
		return fmt.Errorf("no values on TELEMETRY in %s", wall)
	}
	fmt.Printf("%d tags on %d machines every %s; %.0f values in %s (%.0f values/s)\n", n, machines, interval, values, wall.Round(time.Millisecond), values/wall.Seconds())
	var total time.Duration
	for i := range a {
		d := b[i].cpu - a[i].cpu
		total += d
		fmt.Printf("  %-10s %6.2f µs/value  %5.1f %% of a core\n", a[i].name, float64(d.Microseconds())/values, 100*d.Seconds()/wall.Seconds())
	}
	fmt.Printf("  %-10s %6.2f µs/value  %5.1f %% of a core\n", "total", float64(total.Microseconds())/values, 100*total.Seconds()/wall.Seconds())
	// The workers must keep up: analytics' and alerts' lag would make the
	// figure too good.
	for _, c := range []string{bus.StreamTelemetry, bus.StreamFindings} {
		s, err := p.JS.Stream(ctx, c)
		if err != nil {
			continue
		}
		for name := range s.ConsumerNames(ctx).Name() {
			if cons, err := s.Consumer(ctx, name); err == nil {
				if ci, err := cons.Info(ctx); err == nil {
					fmt.Printf("  consumer %s/%s: %d pending, %d unacknowledged\n", c, name, ci.NumPending, ci.NumAckPending)
				}
			}
		}
	}
	return nil
}
