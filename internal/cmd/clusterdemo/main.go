// Command clusterdemo runs linewatch the way docs/deployment.md lays it
// out, on one machine: three nats-server processes (JetStream, routes,
// R3), the collector, two analytics workers and two alerts workers each a
// `linewatch run --roles X` process, the simulated plant and InfluxDB.
// It prints where everything is and how to break it; Ctrl-C stops it all.
//
//	make cluster-demo        (or: go run ./internal/cmd/clusterdemo -dir linewatch-cluster)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/linewatch/linewatch/internal/cluster"
	"github.com/linewatch/linewatch/simulator"
)

func main() {
	dir := flag.String("dir", "linewatch-cluster", "where the cluster keeps its data (made fresh on each run)")
	speed := flag.Float64("speed", 30, "simulated seconds per real second")
	flag.Parse()
	// gopcua's nodeset import prints "New Node Set …" with package log at
	// every simulator start: noise here (linewatch routes it to debug).
	log.SetOutput(io.Discard)
	if err := run(*dir, *speed); err != nil {
		fmt.Fprintln(os.Stderr, "clusterdemo:", err)
		os.Exit(1)
	}
}

func run(dir string, speed float64) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(abs); err != nil {
		return err
	}
	fmt.Println("building nats-server and linewatch, starting InfluxDB (the first run builds InfluxDB 1.8, about 90 s)…")
	at := func(d time.Duration) time.Time { return cluster.T0.Add(d) }
	p, err := cluster.Start(ctx, cluster.Options{Dir: abs, Speed: speed, Poll: time.Second, Faults: []simulator.Fault{
		{Kind: simulator.FaultDrift, Target: "filling1.filler.fill_weight", Rate: 0.03, At: at(60 * time.Minute)},
		{Kind: simulator.FaultDoorOpen, Target: "coldroom1.coldroom.door_open", At: at(30 * time.Minute), Duration: simulator.Duration(20 * time.Minute)},
	}})
	if err != nil {
		return err
	}
	defer p.Close()
	roles := []struct{ name, roles string }{
		{"collector", "collector"}, {"analytics-1", "analytics"}, {"analytics-2", "analytics"}, {"alerts-1", "alerts"}, {"alerts-2", "alerts"},
	}
	for i, r := range roles {
		if _, err := p.Run(r.name, r.roles, nil); err != nil {
			return err
		}
		if i == 0 { // the first process provisions the streams and buckets
			time.Sleep(3 * time.Second)
		}
	}
	fmt.Printf("\nlinewatch cluster demo in %s (simulated plant at %gx)\n\nNATS nodes (JetStream, R3):\n", abs, speed)
	for _, n := range p.Cluster.Nodes {
		fmt.Printf("  %s  %s  pid %d  config %s\n", n.Name, n.URL(), n.PID(), n.Conf)
	}
	fmt.Printf("InfluxDB  %s (database linewatch)\nOPC UA    %s\n\nlinewatch processes:\n", p.Influx.URL(), p.Sim.Endpoint())
	for _, pr := range p.Procs {
		fmt.Printf("  %-12s --roles %-10s pid %-7d log %s\n", pr.Name, pr.Roles, pr.PID(), pr.Log)
	}
	conf := p.Procs[0].Conf
	fmt.Printf(`
Try:
  bin/linewatch alarms watch -c %s     # live alarm list (operator credentials from the data dir)
  kill -9 <pid of a NATS node>          # the cluster elects new leaders; nothing is lost
  kill -9 <pid of analytics-1>          # analytics-2 takes its lines over from their checkpoints
Ctrl-C stops everything (the data stays in %s until the next run).
`, conf, abs)
	<-ctx.Done()
	fmt.Println("stopping…")
	return nil
}
