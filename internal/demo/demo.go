package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/dashboards"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/simulator"
)

// Options of a demo run.
type Options struct {
	DataDir  string  // default linewatch-data
	Speed    float64 // simulated seconds per real second (default 30)
	NoFaults bool
	Out      io.Writer // what the user reads: where things are, the live alarm feed
	Logger   *slog.Logger
	Color    bool // ANSI colours in the alarm feed
	// Resume continues the run kept in DataDir; without it a data dir
	// holding a previous run is refused (runs would mix: old alarms,
	// reused batch ids, reports combining both).
	Resume bool
}

// previousRun names what in dir shows a previous run ("" when none): the
// embedded NATS store (alarms, audit trail, batches) or InfluxDB data.
func previousRun(dir string) string {
	for _, sub := range []string{"nats", "influxdb"} {
		if es, err := os.ReadDir(filepath.Join(dir, sub)); err == nil && len(es) > 0 {
			return filepath.Join(dir, sub)
		}
	}
	return ""
}

// checkFresh refuses a data dir with a previous run unless resume.
func checkFresh(dir string, resume bool) error {
	if resume {
		return nil
	}
	if p := previousRun(dir); p != "" {
		return fmt.Errorf("data dir %s holds a previous demo run (%s): pass --resume to continue it, or --data-dir NEW_DIR (or delete %s) to start a fresh one", dir, p, dir)
	}
	return nil
}

// Scenario is the scripted fault sequence, as offsets from the start of
// simulated time. At the default speed (30×) it plays out in about 5 minutes.
func Scenario(start time.Time) []simulator.Fault {
	m := time.Minute
	return []simulator.Fault{
		{Kind: simulator.FaultDrift, Target: "filling1.filler.fill_weight", Rate: 0.03, At: start.Add(20 * m), Duration: simulator.Duration(45 * m)},
		{Kind: simulator.FaultDoorOpen, Target: "coldroom1.coldroom.door_open", At: start.Add(80 * m), Duration: simulator.Duration(25 * m)},
		{Kind: simulator.FaultRestart, At: start.Add(120 * m), Downtime: simulator.Duration(3 * m)},
		{Kind: simulator.FaultRejectCreep, Target: "filling1.checkweigher.reject_count", Rate: 0.05, At: start.Add(150 * m)},
	}
}

// Run runs the demo until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.DataDir == "" {
		o.DataDir = config.DefaultDataDir
	}
	if o.Speed <= 0 {
		o.Speed = 30
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg, err := config.Demo()
	if err != nil {
		return err
	}
	cfg.MoveDataDir(o.DataDir)
	if err := checkFresh(o.DataDir, o.Resume); err != nil {
		return err
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return err
	}
	users, err := ensureUsers(cfg)
	if err != nil {
		return err
	}
	if err := ensureSigningKey(cfg); err != nil {
		return err
	}

	// Simulated time starts one dashboard time range in the past, runs at
	// Speed until it reaches the wall clock and then at real time
	// (BehindWall): the dashboards' default range shows the whole run and,
	// once caught up, the newest data.
	start := time.Now().UTC().Add(-dashboards.DefaultTimeRange).Truncate(time.Minute)
	sim, err := simulator.Start(ctx, simulator.Options{
		Listen: "127.0.0.1:4840", ControlListen: "127.0.0.1:4841", Speed: o.Speed, Start: start, Seed: 1, BehindWall: true,
		PKIDir: filepath.Join(o.DataDir, "simulator-pki"), AllowAnonymous: true, Logger: o.Logger.With("component", "simulator"),
	})
	if err != nil {
		return fmt.Errorf("start the simulated plant: %w (is another `linewatch simulate` or demo running? port 4840 must be free)", err)
	}
	defer sim.Close()
	if !o.NoFaults {
		for _, f := range Scenario(start) {
			if err := sim.Inject(f); err != nil {
				return err
			}
		}
	}

	feed := newFeed(o.Out, o.Color, display.MustNew(cfg))
	// A component that fails ends app.Run but not ctx: cancel, so that the
	// report goroutine ends too and the deferred sim.Close runs at once.
	ctx, cancel := context.WithCancel(ctx)
	var reportsWG sync.WaitGroup
	defer reportsWG.Wait()
	defer cancel()
	runErr := app.Run(ctx, app.Options{
		Config: cfg, Roles: app.AllRoles, Logger: o.Logger,
		OnTransition: feed.transition, ProcessClock: sim.Now,
		OnReady: func(i app.Info) {
			dir := filepath.Join(o.DataDir, "grafana")
			_, gerr := dashboards.GenerateWith(cfg, dir, dashboards.Options{InfluxURL: i.InfluxURL})
			printBanner(o.Out, i, sim, cfg, users, dir, gerr, o.Speed, start, o.NoFaults)
			reportsWG.Add(1)
			go func() {
				defer reportsWG.Done()
				batchReports(ctx, cfg, i, o.Out, o.Logger)
			}()
		},
	})
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	fmt.Fprintln(o.Out, "linewatch demo stopped; data kept in", o.DataDir)
	return nil
}

// demoUser is a console login created for the demo.
type demoUser struct{ name, role, password string }

// ensureUsers writes a users file with an operator and a supervisor and
// fresh random passwords (kept in the data dir, mode 0600, for the demo only).
func ensureUsers(cfg *config.Config) ([]demoUser, error) {
	path := filepath.Join(cfg.DataDir, "console-users")
	pwPath := filepath.Join(cfg.DataDir, "console-passwords.txt")
	cfg.Console.UsersFile = path
	if b, err := os.ReadFile(pwPath); err == nil {
		var us []demoUser
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 {
				us = append(us, demoUser{f[0], f[1], f[2]})
			}
		}
		if len(us) > 0 {
			return us, nil
		}
	}
	us := []demoUser{{name: "alice", role: "operator"}, {name: "carol", role: "supervisor"}}
	var file, pws strings.Builder
	for i := range us {
		b := make([]byte, 12)
		rand.Read(b)
		us[i].password = base64.RawURLEncoding.EncodeToString(b)
		line, err := identity.HashUser(us[i].name, us[i].role, us[i].password)
		if err != nil {
			return nil, err
		}
		file.WriteString(line + "\n")
		fmt.Fprintf(&pws, "%s:%s:%s\n", us[i].name, us[i].role, us[i].password)
	}
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pwPath, []byte(pws.String()), 0o600); err != nil {
		return nil, err
	}
	return us, nil
}

func printBanner(w io.Writer, i app.Info, sim *simulator.Simulator, cfg *config.Config, users []demoUser, grafanaDir string, gerr error, speed float64, start time.Time, noFaults bool) {
	f := display.MustNew(cfg)
	if speed > 1 {
		catchUp := time.Duration(float64(dashboards.DefaultTimeRange) / (speed - 1)).Round(time.Minute)
		fmt.Fprintf(w, "\nlinewatch demo — simulated plant %q; its clock starts at %s and runs at %g× real time until it reaches the present (in about %s), then at real time\n\n",
			cfg.Site, f.Time(start), speed, catchUp)
	} else {
		fmt.Fprintf(w, "\nlinewatch demo — simulated plant %q at %g× real time (simulated clock started at %s)\n\n", cfg.Site, speed, f.Time(start))
	}
	fmt.Fprintf(w, "  OPC UA plant      %s   (fault control: %s)\n", sim.Endpoint(), sim.ControlURL())
	fmt.Fprintf(w, "  NATS              %s   (no anonymous access; role keys in %s — `linewatch alarms watch --data-dir %s`)\n", i.NATSURL, bus.CredentialsDir(cfg.DataDir), cfg.DataDir)
	fmt.Fprintf(w, "  InfluxDB          %s   database %s\n", i.InfluxURL, i.Database)
	fmt.Fprintf(w, "  operator console  %s\n", i.ConsoleURL)
	for _, u := range users {
		fmt.Fprintf(w, "                      login %s / %s (%s)\n", u.name, u.password, u.role)
	}
	if len(users) > 0 {
		fmt.Fprintf(w, "  alarm CLI         linewatch login --nats %s --operator %s, then linewatch alarms ack ID --nats %s --operator %s\n",
			i.NATSURL, users[0].name, i.NATSURL, users[0].name)
	}
	fmt.Fprintf(w, "  metrics           %s\n", i.MetricsURL)
	if gerr != nil {
		fmt.Fprintf(w, "  Grafana           provisioning NOT written: %v\n", gerr)
	} else {
		fmt.Fprintf(w, "  Grafana           provisioning in %s (docs/grafana.md: point Grafana's provisioning path there; time range: %s)\n", grafanaDir, timeRangeLabel())
	}
	fmt.Fprintf(w, "  batch reports     %s (signed; check with `linewatch report verify FILE -c <config>`)\n", cfg.Reports.OutputDir)
	if !noFaults {
		fmt.Fprintln(w, "\n  scripted faults (simulated time after start):")
		for _, f := range Scenario(start) {
			target := f.Target
			if target == "" {
				target = "(the OPC UA server)"
			}
			fmt.Fprintf(w, "    +%-9s %-18s %s\n", f.At.Sub(start).String(), f.Kind, target)
		}
	}
	fmt.Fprintln(w, "\nLive alarm feed (Ctrl-C stops everything cleanly):")
}

// timeRangeLabel is the dashboards' default time range in Grafana's words.
func timeRangeLabel() string {
	return "last " + strconv.Itoa(int(dashboards.DefaultTimeRange.Hours())) + " hours"
}

// feed prints alarm transitions as they happen.
type feed struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	f     *display.Formatter
}

func newFeed(w io.Writer, color bool, f *display.Formatter) *feed {
	return &feed{w: w, color: color, f: f}
}

var priorityColor = map[alerts.Priority]string{alerts.Urgent: "\x1b[1;31m", alerts.High: "\x1b[31m", alerts.Medium: "\x1b[33m", alerts.Low: "\x1b[36m"}

func (f *feed) transition(tr alerts.Transition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := tr.Alarm
	pre, post := "", ""
	if f.color {
		pre, post = priorityColor[a.Priority], "\x1b[0m"
	}
	who := ""
	if tr.By != "" {
		who = " by " + tr.By
	}
	// The process time (the simulated plant's clock), full date and zone.
	fmt.Fprintf(f.w, "%s%s  %-7s %-15s %-26s %s/%s/%s %s%s%s\n", pre, f.f.Time(tr.At()), a.Priority, tr.Event,
		string(tr.From)+"→"+string(tr.To), a.Line, a.Machine, a.Tag, a.Message, who, post)
}
