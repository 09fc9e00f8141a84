package cluster_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/cluster"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/simulator"
)

// TestMain builds linewatch of this tree once for every case, into a
// directory that outlives each test's temp dir (rebuilt on every run).
func TestMain(m *testing.M) {
	flag.Parse()
	if enabled() {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir := filepath.Join(base, "linewatch", "cluster-test-bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			panic(err)
		}
		if _, err := cluster.LinewatchBinary(context.Background(), dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	testenv.Main(m)
}

const minute = time.Minute

// enabled: the cluster cases run in `make test` (~10 min on 2 cores);
// -short skips them. `make test-cluster` runs only them.
func enabled() bool { return !testing.Short() }

// scenarioPlant is the simulated plant of every case: the default plant
// with filling1 in 20-min batches that each start with 5 min of CIP (a
// machine state that suppresses alarms by design), its fill weight
// stepped out of its limits from 7 min, a cold-room door left open
// from 8 to 20 min and both weights 8× noisier from 2 min: findings on several lines, alarms that activate,
// clear, are suppressed and unsuppressed.
func scenarioPlant() (*simulator.Plant, []simulator.Fault) {
	plant := simulator.DefaultPlant()
	for i := range plant.Lines {
		if l := &plant.Lines[i]; l.ID == "filling1" {
			l.BatchLength = simulator.Duration(20 * minute)
			l.Params = map[string]float64{"cip_minutes": 5, "stops_per_hour": 0, "faults_per_hour": 0}
		}
	}
	at := func(d time.Duration) time.Time { return cluster.T0.Add(d) }
	return plant, []simulator.Fault{
		{Kind: simulator.FaultStep, Target: "filling1.filler.fill_weight", Offset: 0.1, At: at(7 * minute), Duration: simulator.Duration(60 * minute)},
		{Kind: simulator.FaultDoorOpen, Target: "coldroom1.coldroom.door_open", At: at(8 * minute), Duration: simulator.Duration(12 * minute)},
		// Noisy weights: drift charts and limits that activate and clear often.
		{Kind: simulator.FaultVariance, Target: "tableting1.press.tablet_weight", Factor: 8, At: at(2 * minute), Duration: simulator.Duration(60 * minute)},
		{Kind: simulator.FaultVariance, Target: "filling1.filler.fill_weight", Factor: 8, At: at(2 * minute), Duration: simulator.Duration(60 * minute)},
	}
}

// start runs a plant for the test at 60× (100 ms polls: one read per
// machine every 6 simulated seconds), on a three-node cluster, R3.
func start(t *testing.T, set map[string]any) *cluster.Plant {
	t.Helper()
	if !enabled() {
		t.Skip("cluster test (three nats-server processes, InfluxDB, linewatch processes): run without -short (make test-cluster)")
	}
	plant, faults := scenarioPlant()
	dir := t.TempDir()
	p, err := cluster.Start(t.Context(), cluster.Options{Dir: dir, Speed: 60, Poll: 100 * time.Millisecond, Plant: plant, Faults: faults,
		Set: set, Logf: t.Logf, DeferSim: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logRestarts(t, p)
		if t.Failed() {
			t.Logf("process logs (tails):\n%s", p.Logs(40))
		}
		p.Close()
	})
	return p
}

func run(t *testing.T, p *cluster.Plant, name, roles string) *cluster.Proc {
	t.Helper()
	var set map[string]any
	var addr string
	if strings.Contains(roles, "analytics") {
		// Its /metrics, for logRestarts.
		ports, err := cluster.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		addr = fmt.Sprintf("127.0.0.1:%d", ports[0])
		set = map[string]any{"collector.metrics_listen": addr}
	}
	pr, err := p.Run(name, roles, set)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		metricsAddr.Store(pr, addr)
	}
	return pr
}

// metricsAddr: the /metrics address of each analytics process.
var metricsAddr sync.Map // *cluster.Proc → "host:port"

var (
	restartMetricRe = regexp.MustCompile(`(?m)^linewatch_analytics_consumer_restarts_total\{line="([^"]+)"\} (\S+)$`)
	restartLogRe    = regexp.MustCompile(`line consumer made again.* line=(\S+) .*reason=("[^"]*"|\S+)`)
)

// logRestarts logs, for every analytics process, how often each line's
// consumer was made again (linewatch_analytics_consumer_restarts_total
// from its /metrics while it runs) and why (its log, which also covers
// a process killed earlier): a line that stalled shows here.
func logRestarts(t *testing.T, p *cluster.Plant) {
	t.Helper()
	for _, pr := range p.Procs {
		if !strings.Contains(pr.Roles, "analytics") {
			continue
		}
		metric := "not scraped (process not running)"
		if a, ok := metricsAddr.Load(pr); ok && pr.PID() != 0 {
			metric = scrapeRestarts(a.(string))
		}
		reasons := map[string]int{}
		for _, m := range restartLogRe.FindAllStringSubmatch(pr.LogText(), -1) {
			reasons[m[1]+": "+strings.Trim(m[2], `"`)]++
		}
		var logged []string
		for r, n := range reasons {
			logged = append(logged, fmt.Sprintf("%s ×%d", r, n))
		}
		slices.Sort(logged)
		t.Logf("analytics consumer restarts of %s: metric %s; logged %d reasons %v", pr.Name, metric, len(logged), logged)
	}
}

// scrapeRestarts reads the restart counters from a process's /metrics.
func scrapeRestarts(addr string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, m := range restartMetricRe.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1]+"="+m[2])
	}
	if len(out) == 0 {
		return "absent"
	}
	return strings.Join(out, " ")
}

// begin waits until every process started so far runs (has provisioned
// or found the streams and buckets, and none exited on a transient error
// of a cluster still forming), then starts the simulated plant, so the
// scenario's timeline starts with the processes. It returns how long
// the processes took.
func begin(t *testing.T, p *cluster.Plant) time.Duration {
	t.Helper()
	started := time.Now()
	if err := cluster.Eventually(t.Context(), "every process running", 2*time.Minute, func() bool {
		for _, pr := range p.Procs {
			if exited, code := pr.Exited(); exited {
				t.Fatalf("process %s (%s) exited with code %d while starting", pr.Name, pr.Roles, code)
			}
			if !strings.Contains(pr.LogText(), "linewatch running") {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(started)
	if err := p.StartSim(t.Context()); err != nil {
		t.Fatal(err)
	}
	return took
}

// first starts the collector alone and waits until it runs: it
// provisions the streams and buckets, so the cases that are not about
// start-up start the same way each time (processes provisioning
// together: TestAllRolesAtOnceFreshClusterIntegration).
func first(t *testing.T, p *cluster.Plant) *cluster.Proc {
	t.Helper()
	c := run(t, p, "collector", "collector")
	if err := cluster.Eventually(t.Context(), "the collector running", 4*time.Minute, func() bool {
		return strings.Contains(c.LogText(), "linewatch running")
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func waitSim(t *testing.T, p *cluster.Plant, d time.Duration) {
	t.Helper()
	if err := p.WaitSim(t.Context(), cluster.T0.Add(d), 3*time.Minute); err != nil {
		t.Fatal(err)
	}
}

// judge stops the collectors (no new telemetry), waits for the workers to
// settle, and compares every finding, machine state and alarm transition
// with the reference replay of TELEMETRY: 0 lost, 0 duplicated, 0 false.
func judge(t *testing.T, p *cluster.Plant, refConf string) *cluster.Result {
	t.Helper()
	ctx := t.Context()
	for _, pr := range p.Procs {
		if strings.Contains(pr.Roles, "collector") {
			if code := pr.Stop(); code != 0 {
				t.Errorf("collector stopped with exit code %d (SIGTERM: want a clean stop)", code)
			}
		}
	}
	if err := p.Settle(ctx, 8*time.Second, 3*time.Minute); err != nil {
		t.Error(err)
	}
	want, err := cluster.Reference(ctx, p.JS, refConf)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	got, err := cluster.Produced(ctx, p.JS)
	if err != nil {
		t.Fatalf("read what the cluster produced: %v", err)
	}
	t.Logf("reference: %d TELEMETRY messages → %d findings, %d machine states, %d transitions", want.Telemetry, len(want.Findings), len(want.States), len(want.Transitions))
	if len(want.Findings) < 20 {
		t.Errorf("reference has %d findings: the scenario does not exercise the workers", len(want.Findings))
	}
	for _, d := range cluster.Compare(want, got) {
		if d.OK() {
			t.Logf("%s", d)
		} else {
			t.Errorf("%s", d)
			if d.What == "findings" || d.What == "machine states" {
				t.Logf("per line (FINDINGS):\n%s", strings.Join(cluster.ExplainFindings(want, got), "\n"))
			}
			if d.What == "alarm transitions" {
				logConsumers(t, p)
				t.Logf("in order:\n%s", strings.Join(cluster.Explain(want, got, d), "\n"))
			}
		}
	}
	for _, pr := range p.Procs {
		if exited, code := pr.Exited(); exited {
			t.Errorf("process %s (%s) exited by itself with code %d", pr.Name, pr.Roles, code)
		}
	}
	return got
}

// logConsumers logs every FINDINGS consumer's position: a line whose
// consumer waits on a message shows it here.
func logConsumers(t *testing.T, p *cluster.Plant) {
	t.Helper()
	st, err := p.JS.Stream(t.Context(), bus.StreamFindings)
	if err != nil {
		t.Logf("FINDINGS consumers: %v", err)
		return
	}
	for info := range st.ListConsumers(t.Context()).Info() {
		t.Logf("FINDINGS consumer %s: delivered stream seq %d, ack floor %d, ack pending %d, redelivered %d, pending %d, waiting pulls %d",
			info.Name, info.Delivered.Stream, info.AckFloor.Stream, info.NumAckPending, info.NumRedelivered, info.NumPending, info.NumWaiting)
	}
}

// checkReplicas: every stream and bucket linewatch made has nats.replicas (3).
func checkReplicas(t *testing.T, p *cluster.Plant) {
	t.Helper()
	for name := range p.JS.StreamNames(t.Context()).Name() {
		s, err := p.JS.Stream(t.Context(), name)
		if err != nil {
			t.Errorf("stream %s: %v", name, err)
			continue
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("stream %s has %d replicas, want 3 (nats.replicas)", name, r)
		}
	}
}

// All roles started at once on a fresh cluster: nothing exits, nothing hangs.
func TestAllRolesAtOnceFreshClusterIntegration(t *testing.T) {
	p := start(t, nil)
	c := run(t, p, "collector", "collector")
	run(t, p, "analytics", "analytics")
	run(t, p, "alerts", "alerts")
	run(t, p, "console", "console")
	// Every process provisions (or finds) the streams and buckets and runs:
	// none exits on a transient error of a cluster that is still forming.
	t.Logf("all four processes running %s after they were started together", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 35*minute)
	checkReplicas(t, p)
	judge(t, p, c.Conf)
}

// kill -9 the TELEMETRY leader while collecting, then the leader of
// ALARMS (and the alarm bucket) during a finding burst.
func TestLeaderKillIntegration(t *testing.T) {
	p := start(t, nil)
	ctx := t.Context()
	c := first(t, p)
	run(t, p, "analytics", "analytics")
	run(t, p, "alerts", "alerts")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 4*minute)
	for _, k := range []struct {
		stream string
		at     time.Duration
	}{{bus.StreamTelemetry, 4 * minute}, {bus.StreamAlarms, 9 * minute}, {"KV_" + bus.BucketAlarms, 22 * minute}} {
		waitSim(t, p, k.at)
		leader, err := cluster.WaitLeader(ctx, p.JS, k.stream, "", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		n := p.Cluster.Node(leader)
		killed := time.Now()
		n.Kill()
		nl, err := cluster.WaitLeader(ctx, p.JS, k.stream, leader, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s leader %s killed; new leader %s after %s", k.stream, leader, nl, time.Since(killed).Round(time.Millisecond))
		time.Sleep(3 * time.Second) // the node stays down a while: real time of an outage, not a wait for an event
		if err := n.Restart(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Long enough after the last kill (22 min) for the lines to make
	// findings again: a line stalled by a kill shows as findings missed.
	waitSim(t, p, 45*minute)
	judge(t, p, c.Conf)
}

// The node holding each bucket down for nodeDown: with R3 every bucket
// and stream has a copy on the other two, so nothing stops.
func TestBucketNodeDownIntegration(t *testing.T) {
	const nodeDown = 90 * time.Second
	p := start(t, nil)
	ctx := t.Context()
	c := first(t, p)
	run(t, p, "analytics", "analytics")
	run(t, p, "alerts", "alerts")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 4*minute)
	checkReplicas(t, p)
	// The node that leads the analytics checkpoint bucket (R1 before this
	// issue: the bucket lived on that node alone).
	// Its exact name: KV_LINEWATCH_ANALYTICS_LEASES shares the prefix.
	bucket := "KV_" + engine.StateBucket
	if _, err := p.JS.Stream(ctx, bucket); err != nil {
		t.Fatalf("analytics checkpoint bucket %s: %v", bucket, err)
	}
	leader, err := cluster.WaitLeader(ctx, p.JS, bucket, "", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n := p.Cluster.Node(leader)
	n.Kill()
	t.Logf("node %s (leader of %s) down for %s", leader, bucket, nodeDown)
	before, _ := p.StreamInfo(ctx, bus.StreamFindings)
	time.Sleep(nodeDown) // the outage itself
	after, _ := p.StreamInfo(ctx, bus.StreamFindings)
	if before != nil && after != nil && after.State.LastSeq == before.State.LastSeq {
		t.Errorf("no findings published while %s was down", leader)
	}
	if err := n.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	judge(t, p, c.Conf)
}

// Two analytics workers share the lines: the findings are those of one.
func TestTwoAnalyticsWorkersIntegration(t *testing.T) {
	p := start(t, nil)
	c := first(t, p)
	run(t, p, "analytics-1", "analytics")
	run(t, p, "analytics-2", "analytics")
	run(t, p, "alerts", "alerts")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 35*minute)
	judge(t, p, c.Conf)
}

var workerRe = regexp.MustCompile(`partition: taken.* worker=(\S+)`)

// leases maps every partition lease key (<group>.lease.<partition>, in
// any bucket) to its holder (the value: the worker's name).
func leases(t *testing.T, p *cluster.Plant) map[string]string {
	ctx := t.Context()
	out := map[string]string{}
	for name := range p.JS.KeyValueStoreNames(ctx).Name() {
		kv, err := p.JS.KeyValue(ctx, name)
		if err != nil {
			continue
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			continue
		}
		for k := range keys.Keys() {
			if !strings.Contains(k, ".lease.") {
				continue
			}
			if e, err := kv.Get(ctx, k); err == nil {
				out[name+"/"+k] = string(e.Value())
			}
		}
	}
	return out
}

// An analytics worker SIGKILLed while it drains a backlog: the other takes
// its lines over from their checkpoints within 10 s, and the findings are
// exactly the reference's.
func TestAnalyticsWorkerKilledDrainingIntegration(t *testing.T) {
	p := start(t, nil)
	ctx := t.Context()
	c := first(t, p)
	run(t, p, "alerts", "alerts")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 20*minute) // a backlog of 20 simulated minutes on TELEMETRY
	a1 := run(t, p, "analytics-1", "analytics")
	a2 := run(t, p, "analytics-2", "analytics")
	_ = a2
	// a1 holds some lines and is draining.
	var mine []string
	if err := cluster.Eventually(ctx, "analytics-1 holds a partition", 30*time.Second, func() bool {
		m := workerRe.FindStringSubmatch(a1.LogText())
		if m == nil {
			return false
		}
		mine = mine[:0]
		for k, w := range leases(t, p) {
			if w == m[1] {
				mine = append(mine, k)
			}
		}
		return len(mine) > 0
	}); err != nil {
		t.Fatalf("%v (no partition lease in any bucket: is analytics partitioned?)", err)
	}
	worker := workerRe.FindStringSubmatch(a1.LogText())[1]
	time.Sleep(2 * time.Second) // let it drain part of the backlog: real time of work, not a wait for an event
	killed := time.Now()
	a1.Kill()
	var took time.Duration
	if err := cluster.Eventually(ctx, "the killed worker's partitions taken over", 60*time.Second, func() bool {
		l := leases(t, p)
		for _, k := range mine {
			if w, ok := l[k]; !ok || w == worker {
				return false
			}
		}
		took = time.Since(killed)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("analytics-1 (worker %s) SIGKILLed holding %v; taken over in %s", worker, mine, took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("takeover took %s, want ≤ 10 s", took)
	}
	waitSim(t, p, 35*minute)
	judge(t, p, c.Conf)
}

// Two alerts workers drain a backlog of findings: no transition lost.
func TestTwoAlertsWorkersDrainingIntegration(t *testing.T) {
	p := start(t, nil)
	c := first(t, p)
	run(t, p, "analytics", "analytics")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 25*minute) // a backlog on FINDINGS
	run(t, p, "alerts-1", "alerts")
	run(t, p, "alerts-2", "alerts")
	waitSim(t, p, 35*minute)
	judge(t, p, c.Conf)
}

// An alerts worker SIGKILLed while two drain a backlog.
func TestAlertsWorkerKilledDrainingIntegration(t *testing.T) {
	p := start(t, nil)
	c := first(t, p)
	run(t, p, "analytics", "analytics")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 25*minute)
	a1 := run(t, p, "alerts-1", "alerts")
	run(t, p, "alerts-2", "alerts")
	if err := cluster.Eventually(t.Context(), "alerts-1 applying findings", 30*time.Second, func() bool {
		info, err := p.StreamInfo(t.Context(), bus.StreamAlarms)
		return err == nil && info.State.Msgs > 0
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // mid-drain: real time of work
	a1.Kill()
	t.Log("alerts-1 SIGKILLed while draining")
	waitSim(t, p, 35*minute)
	judge(t, p, c.Conf)
}

// A flood on one line with two alerts workers: one flood summary and one
// webhook for it.
func TestFloodTwoWorkersIntegration(t *testing.T) {
	var posts atomicList
	hook := webhookServer(t, &posts)
	secret := filepath.Join(t.TempDir(), "hook.secret")
	if err := os.WriteFile(secret, []byte("cluster-test-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, map[string]any{
		"alarms.flood.threshold": 2, "alarms.flood.end_below": 1, "alarms.flood.window": "10m",
		"alarms.routes": []map[string]any{{"name": "hook", "webhook": map[string]any{"url": hook, "secret_file": secret}}},
	})
	c := first(t, p)
	run(t, p, "analytics", "analytics")
	run(t, p, "alerts-1", "alerts")
	run(t, p, "alerts-2", "alerts")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 35*minute)
	got := judge(t, p, c.Conf)
	starts := map[string]int{}
	for _, tr := range got.Transitions {
		if tr.Event == alerts.EvFloodStart {
			starts[tr.Alarm.ID]++
		}
	}
	var floods int
	for id, n := range starts {
		floods += n
		t.Logf("flood summary %s: %d flood_start", id, n)
	}
	if floods == 0 {
		t.Fatal("no flood summary: the scenario does not flood")
	}
	// One webhook per flood start, not one per worker.
	var hooked int
	for _, b := range posts.all() {
		if strings.Contains(b, string(alerts.EvFloodStart)) {
			hooked++
		}
	}
	t.Logf("%d flood starts on ALARMS, %d flood webhooks", floods, hooked)
	if err := cluster.Eventually(t.Context(), "flood webhooks", 20*time.Second, func() bool {
		hooked = 0
		for _, b := range posts.all() {
			if strings.Contains(b, string(alerts.EvFloodStart)) {
				hooked++
			}
		}
		return hooked >= floods
	}); err != nil {
		t.Error(err)
	}
	if hooked != floods {
		t.Errorf("%d flood webhooks for %d flood starts, want one each", hooked, floods)
	}
	// The flood summary transitions: one per flood (no second worker's copy).
	for id, n := range starts {
		_ = id
		if n > 1 && floods != len(starts) {
			t.Errorf("flood summary %s started %d times", id, n)
		}
	}
}

// Suppression by design with analytics and alerts in separate processes
// (and two alerts workers): the suppress/unsuppress transitions of the
// reference, which saw the machine states in process.
func TestSuppressionAcrossProcessesIntegration(t *testing.T) {
	p := start(t, nil)
	c := first(t, p)
	run(t, p, "analytics", "analytics")
	run(t, p, "alerts-1", "alerts")
	run(t, p, "alerts-2", "alerts")
	t.Logf("processes running after %s", begin(t, p).Round(time.Millisecond))
	waitSim(t, p, 45*minute)
	got := judge(t, p, c.Conf)
	n := map[alerts.Event]int{}
	for _, tr := range got.Transitions {
		n[tr.Event]++
	}
	t.Logf("suppress %d, unsuppress %d", n[alerts.EvSuppress], n[alerts.EvUnsuppress])
	if n[alerts.EvSuppress] == 0 || n[alerts.EvUnsuppress] == 0 {
		t.Errorf("suppress %d, unsuppress %d: want both (filler CIP with the fill weight alarm active)", n[alerts.EvSuppress], n[alerts.EvUnsuppress])
	}
}
