// Command falsealarms measures the false-alarm rate of a configuration (the
// demo's by default) on the simulated plant with no faults: for each seed it
// runs the simulator, an embedded NATS server with JetStream, an InfluxDB 1.8
// (optional) and linewatch with every role (collector → analytics → alerts)
// for -days of simulated time, and counts the alarm activations per
// detector. It reports alarms per detector per simulated day and the
// in-control average run length (ARL0) that implies; with no alarm, the 95 %
// lower confidence bound of the ARL0 (3 / rate, Poisson).
//
// The simulated clock runs -speed times the wall clock and the collector
// polls every -poll of wall time, so each tag is read every speed × poll of
// simulated time (the demo: 30 s, 1 s at 30×; default here 10 ms at 3000×).
//
// Usage:
//
//	go run ./internal/cmd/falsealarms -seeds 1,2,3,4,5 -days 7
//
// Output: a Markdown table.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/demo"
	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/simulator"
)

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

func main() {
	seeds := flag.String("seeds", "1,2,3,4,5", "simulator seeds, comma separated")
	days := flag.Float64("days", 7, "simulated days per seed")
	speed := flag.Float64("speed", 3000, "simulated seconds per wall second")
	poll := flag.Duration("poll", 10*time.Millisecond, "collector poll interval (wall time) of every poll group")
	cfgFile := flag.String("c", "", "config file (default: the demo config); its lines must be the simulated plant's")
	noInflux := flag.Bool("no-influx", false, "do not start InfluxDB (the collector's writer spools to disk)")
	verbose := flag.Bool("v", false, "print every alarm activation")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ss []int64
	for _, f := range strings.Split(*seeds, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			fail(fmt.Errorf("-seeds %q: %w", *seeds, err))
		}
		ss = append(ss, n)
	}
	res := results{counts: map[string][]int{}, seeds: ss, days: *days}
	for i, seed := range ss {
		acts, err := runSeed(ctx, seed, *days, *speed, *poll, *cfgFile, !*noInflux, *verbose)
		if err != nil {
			fail(fmt.Errorf("seed %d: %w", seed, err))
		}
		for _, a := range acts {
			if res.counts[a] == nil {
				res.counts[a] = make([]int, len(ss))
			}
			res.counts[a][i]++
		}
		fmt.Fprintf(os.Stderr, "seed %d: %d alarm activations in %g simulated days\n", seed, len(acts), *days)
	}
	res.print(os.Stdout, *speed, *poll)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "falsealarms:", err)
	os.Exit(1)
}

// runSeed runs the plant fault-free for days and returns the alarm id
// (line/machine/tag/detector/rule) of every activation.
func runSeed(ctx context.Context, seed int64, days, speed float64, poll time.Duration, cfgFile string, influx, verbose bool) ([]string, error) {
	dir, err := os.MkdirTemp("", "falsealarms-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := simulator.Start(ctx, simulator.Options{Listen: "127.0.0.1:0", Speed: speed, Start: t0, Seed: seed, AllowAnonymous: true, Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	// the role credentials and permission sets of `linewatch run`
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(dir))
	if err != nil {
		return nil, err
	}
	ns, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "nats"), Credentials: creds})
	if err != nil {
		return nil, err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	var cfg *config.Config
	if cfgFile != "" {
		cfg, err = config.Load(cfgFile)
	} else {
		cfg, err = config.Demo()
	}
	if err != nil {
		return nil, err
	}
	influxURL := "http://127.0.0.1:1" // nothing listens: the writer spools
	var db *influxd.Server
	if influx {
		srv, err := influxd.Start(ctx, influxd.Options{DataDir: filepath.Join(dir, "influxdb"), LogFile: filepath.Join(dir, "influxd.log")})
		if err != nil {
			return nil, err
		}
		defer srv.Stop()
		db = srv
		if _, err := srv.Query(ctx, "", fmt.Sprintf("CREATE DATABASE %q", cfg.InfluxDB.Database)); err != nil {
			return nil, err
		}
		influxURL = srv.URL()
	}
	demo.PointAt(cfg, dir, influxURL, ns.ClientURL(), sim.Endpoint(), poll)

	var mu sync.Mutex
	var acts []string
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- app.Run(rctx, app.Options{Config: cfg, Roles: app.AllRoles, Logger: quiet,
			OnTransition: func(tr alerts.Transition) {
				if tr.Event != alerts.EvActivate {
					return
				}
				mu.Lock()
				acts = append(acts, tr.Alarm.ID)
				mu.Unlock()
				if verbose {
					fmt.Fprintf(os.Stderr, "seed %d %s (day %.2f) %s: %s\n", seed, tr.Alarm.LastFindingAt.Format(time.RFC3339),
						tr.Alarm.LastFindingAt.Sub(t0).Hours()/24, tr.Alarm.ID, tr.Alarm.Message)
				}
			}})
	}()
	end := t0.Add(time.Duration(days * 24 * float64(time.Hour)))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for sim.Now().Before(end) {
		select {
		case err := <-done:
			return nil, fmt.Errorf("linewatch stopped early: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	// let the last reads reach the alerts role
	time.Sleep(2 * time.Second) // wall-time drain of the pipeline, not a wait for an event
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		return nil, err
	}
	if db != nil {
		// how often the press was really read (skipped polls under load lengthen it)
		raw, err := db.Query(ctx, cfg.InfluxDB.Database, `SELECT count("value") FROM "telemetry" WHERE "tag_name" = 'tablet_weight'`)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "seed %d: tablet_weight values stored (one per new source timestamp, changeovers frozen): %s\n", seed, countOf(raw))
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(acts), nil
}

// countOf pulls the count out of an InfluxQL JSON answer.
func countOf(raw []byte) string {
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 {
		return "unknown (" + string(raw) + ")"
	}
	return fmt.Sprint(r.Results[0].Series[0].Values[0][1])
}

type results struct {
	counts map[string][]int // alarm id → activations per seed
	seeds  []int64
	days   float64
}

func (r results) print(w io.Writer, speed float64, poll time.Duration) {
	total := r.days * float64(len(r.seeds))
	fmt.Fprintf(w, "%d seeds (%v) × %g simulated days = %g plant-days, fault-free; each tag read every %s of simulated time\n\n",
		len(r.seeds), r.seeds, r.days, total, time.Duration(speed*float64(poll)))
	fmt.Fprintln(w, "| alarm (line/machine/tag/detector/rule) | activations per seed | alarms per day | ARL0 |")
	fmt.Fprintln(w, "|---|---|---|---|")
	ids := make([]string, 0, len(r.counts))
	for id := range r.counts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	n := 0
	for _, id := range ids {
		c := 0
		for _, x := range r.counts[id] {
			c += x
		}
		n += c
		fmt.Fprintf(w, "| %s | %v | %.3f | %.1f days |\n", id, r.counts[id], float64(c)/total, total/float64(c))
	}
	if n == 0 {
		fmt.Fprintf(w, "| every detector | 0 | 0 | > %.1f days (95 %% lower bound for the whole plant) |\n", total/3)
	} else {
		fmt.Fprintf(w, "| all | %d | %.3f | %.1f days (whole plant) |\n", n, float64(n)/total, total/float64(n))
	}
}
