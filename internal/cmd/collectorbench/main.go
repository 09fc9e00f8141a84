// Command collectorbench measures the linewatch collector as a whole
// process: the real collector (OPC UA sessions, poll loop, conversion,
// batch context, metrics) and the real InfluxDB writer, polling N synthetic
// tags of a `linewatch simulate` once per interval for a fixed window.
//
// The simulator, InfluxDB and (with -nats) the NATS server run in other
// processes than the one measured: this command is a parent that starts
// them, then runs every measurement in a fresh child process of itself
// (-worker), so CPU time (getrusage RUSAGE_SELF) and peak RSS (VmHWM) belong
// to the collector alone and one run's peak does not leak into the next.
//
// Usage:
//
//	go build -o /tmp/lw ./cmd/linewatch
//	go run ./internal/cmd/collectorbench -lw /tmp/lw -tags 1000,10000,20000,50000 -duration 30s -runs 3
//
// Output: a Markdown table, best run (lowest CPU per value) per tag count.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/influxd"
)

type flags struct {
	lw            string
	tags          string
	duration      time.Duration
	warmup        time.Duration
	interval      time.Duration
	runs          int
	maxPerRead    int
	machines      int
	endpoint      string
	influxURL     string
	database      string
	withNATS      bool
	natsURL       string
	cpuprofile    string
	memprofile    string
	gomaxprocs    int
	telegraf      string
	skipLinewatch bool
	workDir       string

	worker bool
	n      int
}

func main() {
	var f flags
	flag.StringVar(&f.lw, "lw", "/tmp/lw", "linewatch binary used to start the simulator (go build -o /tmp/lw ./cmd/linewatch)")
	flag.StringVar(&f.tags, "tags", "1000,10000,20000,50000", "comma-separated tag counts to measure")
	flag.DurationVar(&f.duration, "duration", 30*time.Second, "measured window per run")
	flag.DurationVar(&f.warmup, "warmup", 5*time.Second, "time after the first values before the window starts")
	flag.DurationVar(&f.interval, "interval", time.Second, "poll interval")
	flag.IntVar(&f.runs, "runs", 3, "runs per tag count; the best (lowest CPU per value) is reported")
	flag.IntVar(&f.maxPerRead, "max-nodes-per-read", 1000, "MaxNodesPerRead of simulator and collector")
	flag.IntVar(&f.machines, "machines", 1, "split the tags over this many machines, each its own OPC UA session to the simulator")
	flag.StringVar(&f.endpoint, "endpoint", "", "use this running simulator (opc.tcp://…) instead of starting one; it must serve the -tags extra tags")
	flag.StringVar(&f.influxURL, "influx", "", "use this running InfluxDB 1.8 instead of starting one")
	flag.StringVar(&f.database, "database", "collectorbench", "InfluxDB database (created if missing)")
	flag.BoolVar(&f.withNATS, "nats", false, "also publish telemetry to JetStream (embedded server in the parent process)")
	flag.StringVar(&f.telegraf, "telegraf", "", "also measure this Telegraf binary (inputs.opcua, outputs.influxdb) on the same simulator and InfluxDB")
	flag.BoolVar(&f.skipLinewatch, "only-telegraf", false, "measure only Telegraf")
	flag.IntVar(&f.gomaxprocs, "gomaxprocs", 0, "GOMAXPROCS of the measured processes only (collector worker and Telegraf); 0 = Go's default")
	flag.StringVar(&f.memprofile, "memprofile", "", "write a heap profile at the end of the window of each worker (tag count appended)")
	flag.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured window of each worker (tag count appended)")
	flag.StringVar(&f.workDir, "dir", "", "work directory (default: a temp dir, removed at the end)")
	flag.BoolVar(&f.worker, "worker", false, "internal: run one measurement in this process")
	flag.IntVar(&f.n, "n", 0, "internal: tag count of a worker")
	flag.StringVar(&f.natsURL, "nats-url", "", "internal: NATS URL of a worker")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if f.worker {
		err = runWorker(ctx, f)
	} else {
		err = runParent(ctx, f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "collectorbench:", err)
		os.Exit(1)
	}
}

// result is one worker's measurement, sent to the parent as JSON.
type result struct {
	Process      string  `json:"process"`
	Tags         int     `json:"tags"`
	WindowS      float64 `json:"window_s"`
	CPUS         float64 `json:"cpu_s"` // user + system
	SysS         float64 `json:"sys_s"`
	Values       int64   `json:"values"`
	CPUusPerVal  float64 `json:"cpu_us_per_value"`
	ValuesPerS   float64 `json:"values_per_s"`
	CPUPercent   float64 `json:"cpu_percent"`
	SkippedTicks float64 `json:"skipped_ticks"`
	ReadP50S     float64 `json:"read_duration_mean_s"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	RSSMB        float64 `json:"rss_mb"`
	PeakHeapMB   float64 `json:"peak_heap_inuse_mb"`
	HeapMB       float64 `json:"heap_inuse_mb"`
	Goroutines   int     `json:"goroutines"`
	// Over the whole run, after the writer drained: every value read must
	// be in InfluxDB (lines acknowledged by InfluxDB, none spooled).
	ReadTotal    int64   `json:"read_total"`
	WrittenTotal float64 `json:"written_total"`
	WriteErrors  float64 `json:"write_errors"`
}

func runParent(ctx context.Context, f flags) error {
	counts, err := parseCounts(f.tags)
	if err != nil {
		return err
	}
	dir := f.workDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "collectorbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	influxURL := f.influxURL
	if influxURL == "" {
		srv, err := influxd.Start(ctx, influxd.Options{DataDir: filepath.Join(dir, "influxdb"), LogFile: filepath.Join(dir, "influxd.log")})
		if err != nil {
			return fmt.Errorf("start InfluxDB (or pass -influx URL): %w", err)
		}
		defer srv.Stop()
		influxURL = srv.URL()
	}
	if err := createDatabase(ctx, influxURL, f.database); err != nil {
		return err
	}
	natsURL := ""
	if f.withNATS {
		ns, err := bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: filepath.Join(dir, "nats"), Anonymous: true})
		if err != nil {
			return fmt.Errorf("start NATS: %w", err)
		}
		defer ns.Shutdown()
		natsURL = ns.ClientURL()
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("load before: %s", loadavg())
	var best []result
	for _, n := range counts {
		endpoint := f.endpoint
		var stopSim func()
		if endpoint == "" {
			endpoint, stopSim, err = startSimulator(ctx, f.lw, n, f.maxPerRead, dir)
			if err != nil {
				return err
			}
		}
		var runs []result
		for r := 0; !f.skipLinewatch && r < f.runs && ctx.Err() == nil; r++ {
			res, err := runChild(ctx, self, f, n, endpoint, influxURL, natsURL, dir)
			if err != nil {
				if stopSim != nil {
					stopSim()
				}
				return fmt.Errorf("%d tags, run %d: %w", n, r+1, err)
			}
			res.Process = "linewatch"
			fmt.Fprintf(os.Stderr, "%d tags run %d: %.2f µs/value (%.0f %% system), %.0f values/s, %.0f skipped ticks, peak RSS %.1f MB, heap %.1f MB; in InfluxDB %.0f of %d values read, %.0f write errors\n",
				n, r+1, res.CPUusPerVal, 100*res.SysS/max(res.CPUS, 1e-9), res.ValuesPerS, res.SkippedTicks, res.PeakRSSMB, res.PeakHeapMB,
				res.WrittenTotal, res.ReadTotal, res.WriteErrors)
			if res.WrittenTotal != float64(res.ReadTotal) {
				return fmt.Errorf("%d tags run %d: InfluxDB acknowledged %.0f lines of %d values read", n, r+1, res.WrittenTotal, res.ReadTotal)
			}
			runs = append(runs, res)
		}
		if len(runs) > 0 {
			best = append(best, bestRun(runs))
		}
		var truns []result
		tryTelegraf := f.telegraf != ""
		if tryTelegraf && n > f.maxPerRead {
			// Telegraf's inputs.opcua sends all nodes in one Read; the
			// simulator refuses more than MaxNodesPerRead.
			fmt.Fprintf(os.Stderr, "telegraf skipped at %d tags: it cannot split a Read to MaxNodesPerRead %d\n", n, f.maxPerRead)
			tryTelegraf = false
		}
		for r := 0; tryTelegraf && r < f.runs && ctx.Err() == nil; r++ {
			res, err := runTelegraf(ctx, f.telegraf, f, n, endpoint, influxURL, dir)
			if err != nil {
				if stopSim != nil {
					stopSim()
				}
				return fmt.Errorf("telegraf, %d tags, run %d: %w", n, r+1, err)
			}
			res.Process = "telegraf"
			fmt.Fprintf(os.Stderr, "telegraf %d tags run %d: %.2f µs/value, %.0f values/s, peak RSS %.1f MB\n",
				n, r+1, res.CPUusPerVal, res.ValuesPerS, res.PeakRSSMB)
			truns = append(truns, res)
		}
		if len(truns) > 0 {
			best = append(best, bestRun(truns))
		}
		if stopSim != nil {
			stopSim()
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Printf("load after: %s", loadavg())
	procs := "default"
	if f.gomaxprocs > 0 {
		procs = strconv.Itoa(f.gomaxprocs)
	}
	fmt.Printf("\nbest of %d runs, %s window, poll every %s, %d machine(s), MaxNodesPerRead %d, InfluxDB writer%s, GOMAXPROCS %s (of %d CPUs)\n\n",
		f.runs, f.duration, f.interval, max(f.machines, 1), f.maxPerRead, map[bool]string{true: " + JetStream", false: ""}[f.withNATS], procs, runtime.NumCPU())
	fmt.Println("| process | tags | CPU µs/value | values/s | CPU % of one core | skipped ticks | mean read s | peak RSS MB | peak Go heap in use MB |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range best {
		fmt.Printf("| %s | %d | %.2f | %.0f | %.1f | %.0f | %.3f | %.1f | %.1f |\n",
			r.Process, r.Tags, r.CPUusPerVal, r.ValuesPerS, r.CPUPercent, r.SkippedTicks, r.ReadP50S, r.PeakRSSMB, r.PeakHeapMB)
	}
	return nil
}

// measuredEnv is the environment of a measured process: -gomaxprocs
// applies to it alone, not to the simulator or InfluxDB.
func measuredEnv(f flags) []string {
	env := os.Environ()
	if f.gomaxprocs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(f.gomaxprocs))
	}
	return env
}

// bestRun is the run with the lowest CPU per value: other builds on the
// machine only ever add CPU time.
func bestRun(runs []result) result {
	b := runs[0]
	for _, r := range runs[1:] {
		if r.CPUusPerVal < b.CPUusPerVal {
			b = r
		}
	}
	return b
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 50000 {
			return nil, fmt.Errorf("-tags %q: want comma-separated counts 1..50000", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown\n"
	}
	return string(b)
}

func createDatabase(ctx context.Context, influxURL, db string) error {
	form := url.Values{"q": {fmt.Sprintf("CREATE DATABASE %q", db)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(influxURL, "/")+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create database %q at %s: %w", db, influxURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"error"`)) {
		return fmt.Errorf("create database %q at %s: %s %s", db, influxURL, resp.Status, body)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startSimulator runs `linewatch simulate` with n extra tags as a child
// process and waits until its OPC UA port accepts connections.
func startSimulator(ctx context.Context, lw string, n, maxPerRead int, dir string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("simulator-%d.log", n)))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(lw, "simulate", "--listen", addr, "--control-listen", "", "--extra-tags", strconv.Itoa(n),
		"--max-nodes-per-read", strconv.Itoa(maxPerRead), "--pki-dir", filepath.Join(dir, "simulator-pki"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", nil, fmt.Errorf("start simulator %s (build it: go build -o /tmp/lw ./cmd/linewatch): %w", lw, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	stop := stopper(cmd, done, 10*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "opc.tcp://" + addr, stop, nil
		}
		select {
		case <-done:
			return "", nil, fmt.Errorf("simulator exited during start (log in %s)", logf.Name())
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("simulator not listening on %s after 60 s", addr)
		}
	}
}

func runChild(ctx context.Context, self string, f flags, n int, endpoint, influxURL, natsURL, dir string) (result, error) {
	args := []string{"-worker", "-n", strconv.Itoa(n), "-endpoint", endpoint, "-influx", influxURL, "-database", f.database,
		"-duration", f.duration.String(), "-warmup", f.warmup.String(), "-interval", f.interval.String(),
		"-max-nodes-per-read", strconv.Itoa(f.maxPerRead), "-machines", strconv.Itoa(f.machines), "-dir", filepath.Join(dir, "worker")}
	if natsURL != "" {
		args = append(args, "-nats-url", natsURL)
	}
	if f.cpuprofile != "" {
		args = append(args, "-cpuprofile", fmt.Sprintf("%s.%d", f.cpuprofile, n))
	}
	if f.memprofile != "" {
		args = append(args, "-memprofile", fmt.Sprintf("%s.%d", f.memprofile, n))
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = measuredEnv(f)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("worker: %w", err)
	}
	var res result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := sc.Bytes(); bytes.HasPrefix(line, []byte("{")) {
			if err := json.Unmarshal(line, &res); err != nil {
				return result{}, fmt.Errorf("worker output %q: %w", line, err)
			}
			return res, nil
		}
	}
	return result{}, fmt.Errorf("worker printed no result: %q", out)
}

// procStatusMB reads a kB field (VmHWM, VmRSS) of /proc/<pid>/status in
// MB; pid "self" is this process.
func procStatusMB(pid, field string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// stopper returns a function that stops cmd (started, with done closed
// once it was waited for): SIGTERM, then SIGKILL after grace.
func stopper(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) func() {
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(grace):
			cmd.Process.Kill()
			<-done
		}
	}
}
