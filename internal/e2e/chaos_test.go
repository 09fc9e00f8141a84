package e2e

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

// One scenario at accelerated time, every role a process of its own:
// InfluxDB SIGKILLed and restarted, the collector SIGKILLed (and started
// again) during that outage, the NATS server restarted, the OPC UA server
// restarted, the alerts process SIGKILLed during a finding burst, a NaN
// on a critical cold-room probe next to a real door-open excursion on the
// other, and the collector's wall clock stepped back 60 s. Every value on
// TELEMETRY is in InfluxDB, every alarm transition is on ALARMS exactly
// once, every system alarm raised is cleared, the excursion alarms and
// polling goes on through the clock step.
func TestChaosIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos end-to-end test: skipped with -short")
	}
	m := time.Minute
	at := func(d time.Duration) time.Time { return T0.Add(d) }
	faults := []simulator.Fault{
		// The hostile value on a critical tag, and the real excursion next to it.
		{Kind: simulator.FaultHostile, Target: "coldroom1.coldroom.temp_probe2", Hostile: simulator.HostileNaN, At: at(5 * m), Duration: simulator.Duration(45 * m)},
		{Kind: simulator.FaultDoorOpen, Target: "coldroom1.coldroom.door_open", At: at(8 * m), Duration: simulator.Duration(25 * m)},
		// OPC UA server restart, long enough (in real time) for the comm-loss alarm (1 s).
		{Kind: simulator.FaultRestart, At: at(60 * m), Downtime: simulator.Duration(8 * m)},
		// The finding burst during which the alerts process is killed.
		{Kind: simulator.FaultStep, Target: "filling1.filler.fill_weight", Offset: 0.05, At: at(75 * m), Duration: simulator.Duration(15 * m)},
	}
	const speed = 120 // 2 simulated minutes per real second
	p := startPlant(t, plantOptions{Speed: speed, PollInterval: 100 * time.Millisecond, Faults: faults, NoApp: true})
	ctx := context.Background()

	collector := p.child("collector")
	analytics := p.child("analytics")
	alertsProc := p.child("alerts")
	for _, c := range []*child{collector, analytics, alertsProc} {
		c.start()
	}

	// InfluxDB crashes; the collector crashes during the outage and a new
	// one (same spool) takes over; then InfluxDB comes back.
	p.waitSim(at(18 * m))
	if err := p.influx.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitSim(at(24 * m))
	collector.kill()
	collector.start()
	p.waitSim(at(34 * m))
	if err := p.influx.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	// NATS server restart.
	p.waitSim(at(42 * m))
	p.restartNATS(time.Second)

	// Backward wall-clock step on the collector; polling must go on.
	p.waitSim(at(50 * m))
	stepAt, simAtStep := time.Now(), p.sim.Now()
	collector.signal(syscall.SIGUSR1)
	p.waitSim(p.sim.Now().Add(8 * m))

	// The alerts process dies during the finding burst (after the fill
	// weight alarm activated, while findings keep coming).
	p.waitSim(at(75 * m))
	p.eventually("fill weight alarm during the burst", 30*time.Second, func() bool {
		for _, tr := range p.transitions() {
			if strings.Contains(tr.Alarm.ID, "filling1/filler/fill_weight/") && tr.Event == alerts.EvActivate {
				return true
			}
		}
		return false
	})
	alertsProc.kill()
	p.waitSim(p.sim.Now().Add(3 * m))
	alertsProc.start()

	p.waitSim(at(100 * m))
	// No new values from here: what was read must arrive everywhere. The
	// collector stops first (a clean stop), so that the server's end is
	// not an OPC UA communication loss.
	collector.stop()
	p.sim.Close()

	// (a) Every value read is in InfluxDB: each distinct source timestamp
	// of each tag on TELEMETRY is in InfluxDB (a value re-read unchanged
	// keeps its timestamp, and InfluxDB stores a series' timestamp once).
	var missing []string
	var onStream, extra int
	deadline := time.Now().Add(60 * time.Second)
	for {
		want := p.streamSamples(ctx)
		got := p.influxTimestamps(`SELECT quality FROM telemetry GROUP BY line, machine, tag_name`)
		missing, onStream, extra = nil, 0, 0
		for k, ts := range want {
			n := 0
			for ns := range ts {
				onStream++
				if !got[k][ns] {
					n++
				}
			}
			if n > 0 || len(got[k]) != len(ts) {
				if n > 0 {
					missing = append(missing, fmt.Sprintf("%s: %d on TELEMETRY, %d in InfluxDB, %d of TELEMETRY's missing", k, len(ts), len(got[k]), n))
				}
				extra += len(got[k]) - (len(ts) - n)
			}
		}
		if len(missing) == 0 && len(want) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			p.dumpChildren(collector, analytics, alertsProc)
			t.Errorf("values on TELEMETRY missing in InfluxDB 60 s after the run (%d tags):\n%s", len(want), strings.Join(missing, "\n"))
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d distinct values on TELEMETRY; %d more in InfluxDB only (read and stored, their telemetry message not on the stream)", onStream, extra)

	// The clock step was seen, and polling went on through it.
	if !strings.Contains(collector.logText(), "wall clock stepped") {
		t.Error("the collector did not log the backward wall-clock step")
	}
	// Telemetry messages of the filler (one per poll) read after the step
	// (a value timestamped after it) and stored by NATS in the 3 s after
	// it: 30 at 100 ms polls; a poll loop waiting out the 60 s step would
	// have none.
	if n := p.telemetryBetween(ctx, "filling1", "filler", simAtStep, stepAt, stepAt.Add(3*time.Second)); n < 10 {
		t.Errorf("%d filler polls on TELEMETRY in the 3 s after the clock step, want about 30", n)
	} else {
		t.Logf("%d filler polls on TELEMETRY in the 3 s after the backward clock step", n)
	}

	// Let the alarm service catch up with what analytics and health sent.
	trs := p.settledTransitions()
	for _, c := range []*child{collector, analytics, alertsProc} {
		c.stop()
	}

	// (b) Every alarm transition exactly once: no transition id twice,
	// each alarm's sequence 1..n.
	checkTransitionsOnce(t, trs)

	// InfluxDB's alarms measurement has each transition once, although
	// the alerts process was killed (its writer's journal).
	n := p.countField("alarms", "seq")
	for end := time.Now().Add(20 * time.Second); n < len(trs) && time.Now().Before(end); n = p.countField("alarms", "seq") {
		time.Sleep(500 * time.Millisecond) // the alerts writer's flush interval is 100 ms
	}
	if n != len(trs) {
		t.Errorf("%d transitions on ALARMS, %d in InfluxDB measurement alarms", len(trs), n)
	}
	for _, c := range []*child{collector, analytics, alertsProc} {
		if strings.Contains(c.logText(), "DATA LOST") {
			t.Errorf("%s process logged DATA LOST", c.roles)
		}
	}

	// (c) Every system alarm raised and cleared; those this scenario must raise.
	last := map[string]alerts.Transition{}
	raised := map[string]bool{}
	for _, tr := range trs {
		if tr.Alarm.Detector != "system" {
			continue
		}
		last[tr.Alarm.ID] = tr
		if tr.Event == alerts.EvActivate {
			raised[tr.Alarm.ID] = true
		}
	}
	for id, tr := range last {
		t.Logf("system alarm %s: last %s→%s (%s), active %v", id, tr.From, tr.To, tr.Event, tr.Alarm.Active)
		if tr.Alarm.Active {
			t.Errorf("system alarm %s still active at the end: %s", id, tr.Alarm.Message)
		}
	}
	for _, want := range []string{
		// Roles run as processes here: each names its store conditions.
		"/_system/store@collector/" + health.InfluxWrite + "/system",
		"/_system/store@collector/" + health.SpoolInUse + "/system",
		"/coldroom1/coldroom/" + health.CommLost + "/system",
		"/filling1/filler/" + health.CommLost + "/system",
	} {
		found := false
		for id := range raised {
			found = found || strings.HasSuffix(id, want)
		}
		if !found {
			t.Errorf("system alarm …%s never raised", want)
		}
	}

	// (d) The door excursion alarms although the other probe sent NaN.
	nan := 0
	for _, v := range p.streamValues(ctx, "coldroom1/coldroom/temp_probe2") {
		if math.IsNaN(v) {
			nan++
		}
	}
	if nan == 0 {
		t.Error("no NaN of temp_probe2 on TELEMETRY: the hostile value was never read")
	}
	excursion := false
	for _, tr := range trs {
		a := tr.Alarm
		excursion = excursion || (strings.Contains(a.ID, "coldroom1/coldroom/temp_probe1/") && tr.Event == alerts.EvActivate &&
			!a.LastFindingAt.Before(at(8*m)) && !a.LastFindingAt.After(at(40*m)))
	}
	if !excursion {
		t.Errorf("no temp_probe1 alarm for the door excursion (08–33 min) next to %d NaN values of temp_probe2", nan)
	}
	if t.Failed() {
		for _, tr := range trs {
			t.Log(fmtTr(tr))
		}
	}
}

// settledTransitions reads ALARMS until two reads a second apart agree.
func (p *plant) settledTransitions() []alerts.Transition {
	prev := -1
	for range 30 {
		trs := p.transitions()
		if len(trs) == prev {
			return trs
		}
		prev = len(trs)
		time.Sleep(time.Second)
	}
	return p.transitions()
}

// streamSamples returns the distinct source timestamps (ns) per
// line/machine/tag on TELEMETRY.
func (p *plant) streamSamples(ctx context.Context) map[string]map[int64]bool {
	p.t.Helper()
	seen := map[string]map[int64]bool{}
	p.eachTelemetry(ctx, func(b sample.Batch, v sample.Value) {
		k := b.Line + "/" + b.Machine + "/" + v.Tag
		if seen[k] == nil {
			seen[k] = map[int64]bool{}
		}
		seen[k][v.Time.UnixNano()] = true
	})
	return seen
}

// streamValues returns the values of one line/machine/tag on TELEMETRY.
func (p *plant) streamValues(ctx context.Context, key string) []float64 {
	var vs []float64
	p.eachTelemetry(ctx, func(b sample.Batch, v sample.Value) {
		if b.Line+"/"+b.Machine+"/"+v.Tag == key {
			vs = append(vs, v.Value)
		}
	})
	return vs
}

// telemetryBetween counts the TELEMETRY messages of one machine that hold
// a value timestamped at or after read and that the stream stored between
// from and to (real time).
func (p *plant) telemetryBetween(ctx context.Context, line, machine string, read, from, to time.Time) int {
	p.t.Helper()
	n := 0
	p.eachTelemetryMsg(ctx, func(msg jetstream.Msg, b sample.Batch) {
		md, err := msg.Metadata()
		if err != nil {
			p.t.Fatal(err)
		}
		if b.Line != line || b.Machine != machine || md.Timestamp.Before(from) || !md.Timestamp.Before(to) {
			return
		}
		for _, v := range b.Values {
			if !v.Time.Before(read) {
				n++
				return
			}
		}
	})
	return n
}

func (p *plant) eachTelemetry(ctx context.Context, f func(sample.Batch, sample.Value)) {
	p.eachTelemetryMsg(ctx, func(_ jetstream.Msg, b sample.Batch) {
		for _, v := range b.Values {
			f(b, v)
		}
	})
}

func (p *plant) eachTelemetryMsg(ctx context.Context, f func(jetstream.Msg, sample.Batch)) {
	p.t.Helper()
	cons, err := p.js.OrderedConsumer(ctx, bus.StreamTelemetry, jetstream.OrderedConsumerConfig{})
	if err != nil {
		p.t.Fatal(err)
	}
	info, err := p.js.Stream(ctx, bus.StreamTelemetry)
	if err != nil {
		p.t.Fatal(err)
	}
	for i := uint64(0); i < info.CachedInfo().State.Msgs; i++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			p.t.Fatalf("read TELEMETRY: %v", err)
		}
		b, err := sample.Unmarshal(msg.Data())
		if err != nil {
			p.t.Fatal(err)
		}
		f(msg, b)
	}
}

// influxTimestamps runs a query grouped by line, machine, tag_name and
// returns the timestamps (ns) of each line/machine/tag.
func (p *plant) influxTimestamps(q string) map[string]map[int64]bool {
	p.t.Helper()
	out := map[string]map[int64]bool{}
	for _, s := range p.querySeries(q) {
		ts := map[int64]bool{}
		for _, v := range s.Values {
			tm, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v[0]))
			if err != nil {
				p.t.Fatalf("%s: time %v: %v", q, v[0], err)
			}
			ts[tm.UnixNano()] = true
		}
		out[s.key()] = ts
	}
	return out
}

// child is one linewatch process of the chaos test: this test binary
// re-executed with childEnv set (see runChild).
type child struct {
	p     *plant
	roles string
	log   string // stderr of every run, appended
	cmd   *exec.Cmd
	done  chan error
}

func (p *plant) child(roles string) *child {
	c := &child{p: p, roles: roles, log: filepath.Join(p.t.TempDir(), roles+".log")}
	p.t.Cleanup(c.stop)
	return c
}

func (c *child) start() {
	c.p.t.Helper()
	f, err := os.OpenFile(c.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.p.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	u, _ := url.Parse(c.p.natsURL)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"="+c.roles,
		childDir+"="+c.p.dataDir,
		childInflux+"="+c.p.influx.URL(),
		childNATS+"=nats://"+u.Host,
		childEndpoint+"="+c.p.sim.Endpoint(),
		childPoll+"="+c.p.cfg.Lines[0].Machines[0].PollGroups[0].Interval.String(),
	)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		c.p.t.Fatalf("start %s process: %v", c.roles, err)
	}
	c.cmd, c.done = cmd, make(chan error, 1)
	go func() { c.done <- cmd.Wait() }()
}

// kill is a crash: SIGKILL, nothing of the process runs after it.
func (c *child) kill() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Kill()
	<-c.done
	c.cmd = nil
}

func (c *child) signal(s os.Signal) {
	if err := c.cmd.Process.Signal(s); err != nil {
		c.p.t.Fatalf("signal %s process: %v", c.roles, err)
	}
}

// stop is a clean stop (SIGTERM), as a service manager does.
func (c *child) stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		if err != nil {
			c.p.t.Errorf("%s process: %v\n%s", c.roles, err, c.logText())
		}
	case <-time.After(20 * time.Second):
		c.p.t.Errorf("%s process did not stop within 20 s", c.roles)
		c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
}

func (c *child) logText() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

func (p *plant) dumpChildren(cs ...*child) {
	for _, c := range cs {
		lines := strings.Split(c.logText(), "\n")
		var keep []string
		for _, l := range lines {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.HasPrefix(l, "===") {
				keep = append(keep, l)
			}
		}
		if len(keep) > 200 {
			keep = append(keep[:100], keep[len(keep)-100:]...)
		}
		p.t.Logf("%s process log (warnings and errors):\n%s", c.roles, strings.Join(keep, "\n"))
	}
}
