package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// telegrafDatabase keeps Telegraf's points apart from the collector's.
const telegrafDatabase = "telegrafbench"

// telegrafConfig polls the same n synthetic tags once per interval in one
// Read (Telegraf does not split reads) and writes them to the same
// InfluxDB, gzip-compressed like linewatch's writer. Every node becomes
// field "value" with tag tag_name, the shape of linewatch's measurement.
func telegrafConfig(endpoint, influxURL string, n int, interval time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[agent]
  interval = %q
  round_interval = true
  collection_jitter = "0s"
  flush_interval = "1s"
  flush_jitter = "0s"
  metric_batch_size = 5000
  metric_buffer_limit = 200000
  omit_hostname = true
  quiet = true

[[outputs.influxdb]]
  urls = [%q]
  database = %q
  content_encoding = "gzip"

[[inputs.opcua]]
  name = "telemetry"
  endpoint = %q
  connect_timeout = "10s"
  request_timeout = "30s"
  security_policy = "None"
  security_mode = "None"
  auth_method = "Anonymous"
  timestamp = "gather"
`, interval.String(), influxURL, telegrafDatabase, endpoint)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `[[inputs.opcua.nodes]]
  name = "value"
  namespace = "2"
  identifier_type = "s"
  identifier = "synthetic.load.tag%05d"
  [inputs.opcua.nodes.default_tags]
    tag_name = "t%05d"
`, i, i)
	}
	return b.String()
}

// procCPU is utime+stime of a process from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticksPerSecond, nil
}

// runTelegraf runs Telegraf against the simulator and InfluxDB and
// measures its CPU from /proc over the same warm-up and window as a worker.
// Values are those that reached InfluxDB with a gather time in the window.
func runTelegraf(ctx context.Context, bin string, f flags, n int, endpoint, influxURL, dir string) (result, error) {
	if err := createDatabase(ctx, influxURL, telegrafDatabase); err != nil {
		return result{}, err
	}
	conf := filepath.Join(dir, fmt.Sprintf("telegraf-%d.conf", n))
	if err := os.WriteFile(conf, []byte(telegrafConfig(endpoint, influxURL, n, f.interval)), 0o644); err != nil {
		return result{}, err
	}
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("telegraf-%d.log", n)))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", conf)
	cmd.Env = measuredEnv(f)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start Telegraf %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer stopper(cmd, done, 15*time.Second)()
	pid := cmd.Process.Pid
	// Wait for the first complete poll in InfluxDB, then warm up.
	start := time.Now()
	for {
		c, err := countValues(ctx, influxURL, telegrafDatabase, start.Add(-time.Minute), time.Now().Add(time.Minute))
		if err != nil {
			return result{}, err
		}
		if c >= int64(n) {
			break
		}
		if time.Since(start) > 2*time.Minute {
			return result{}, fmt.Errorf("telegraf wrote %d of %d values in 2 min (log %s)", c, n, logf.Name())
		}
		select {
		case <-done:
			return result{}, fmt.Errorf("telegraf exited (log %s)", logf.Name())
		case <-ctx.Done():
			return result{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return result{}, ctx.Err()
	case <-time.After(f.warmup):
	}
	// The window is aligned to poll ticks so that the InfluxDB count holds
	// exactly the polls whose CPU is measured.
	t0 := time.Now().Truncate(f.interval).Add(f.interval / 2)
	time.Sleep(time.Until(t0))
	cpu0, err := procCPU(pid)
	if err != nil {
		return result{}, err
	}
	select {
	case <-ctx.Done():
		return result{}, ctx.Err()
	case <-time.After(f.duration):
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return result{}, err
	}
	t1 := time.Now()
	res := result{Tags: n, WindowS: t1.Sub(t0).Seconds(), CPUS: (cpu1 - cpu0).Seconds(),
		PeakRSSMB: procStatusMB(strconv.Itoa(pid), "VmHWM"), RSSMB: procStatusMB(strconv.Itoa(pid), "VmRSS")}
	// Let the last flush land, then count what Telegraf stored in the window.
	time.Sleep(3 * time.Second)
	// Points carry Telegraf's gather time (timestamp = "gather"): a source
	// timestamp repeats while a value is unchanged and would overwrite points.
	if res.Values, err = countValues(ctx, influxURL, telegrafDatabase, t0, t1); err != nil {
		return result{}, err
	}
	if res.Values > 0 {
		res.CPUusPerVal = res.CPUS * 1e6 / float64(res.Values)
	}
	res.ValuesPerS = float64(res.Values) / res.WindowS
	res.CPUPercent = 100 * res.CPUS / res.WindowS
	return res, nil
}

// countValues counts field "value" of measurement telemetry in [from, to).
func countValues(ctx context.Context, influxURL, db string, from, to time.Time) (int64, error) {
	q := fmt.Sprintf(`SELECT count("value") FROM "telemetry" WHERE time >= '%s' AND time < '%s'`,
		from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
	u := strings.TrimRight(influxURL, "/") + "/query?" + url.Values{"db": {db}, "q": {q}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("count values in %s: %w", db, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("count values in %s: %s: %w", db, body, err)
	}
	if len(out.Results) == 0 {
		return 0, nil
	}
	if out.Results[0].Error != "" {
		return 0, fmt.Errorf("count values in %s: %s", db, out.Results[0].Error)
	}
	if len(out.Results[0].Series) == 0 || len(out.Results[0].Series[0].Values) == 0 || len(out.Results[0].Series[0].Values[0]) < 2 {
		return 0, nil
	}
	c, ok := out.Results[0].Series[0].Values[0][1].(float64)
	if !ok {
		return 0, fmt.Errorf("count values in %s: unexpected %s", db, body)
	}
	return int64(c), nil
}
