package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/demo"
)

// The chaos test runs each linewatch role as a child process (this test
// binary re-executed), so that it can SIGKILL one and start another.
const (
	childEnv      = "LINEWATCH_E2E_CHILD" // roles: collector, analytics, alerts (comma-separated)
	childDir      = "LINEWATCH_E2E_DIR"   // data_dir (holds the NATS role credentials)
	childInflux   = "LINEWATCH_E2E_INFLUX"
	childNATS     = "LINEWATCH_E2E_NATS"
	childEndpoint = "LINEWATCH_E2E_OPCUA"
	childPoll     = "LINEWATCH_E2E_POLL"
)

// childClock is the system clock whose wall reading steps back 60 s on
// every SIGUSR1, as an operator or NTP would step it; timers and the
// monotonic reading are untouched.
type childClock struct {
	clock.Real
	offset atomic.Int64
}

func (c *childClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// runChild runs the given roles with the scenario's config until SIGTERM
// and returns the exit code. Logs go to stderr (a file the test reads).
func runChild(roles string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fail := func(err error) int {
		log.Error("chaos child", "err", err)
		return 2
	}
	cfg, err := config.Demo()
	if err != nil {
		return fail(err)
	}
	poll, err := time.ParseDuration(os.Getenv(childPoll))
	if err != nil {
		return fail(fmt.Errorf("%s: %w", childPoll, err))
	}
	dir := os.Getenv(childDir)
	demo.PointAt(cfg, dir, os.Getenv(childInflux), os.Getenv(childNATS), os.Getenv(childEndpoint), poll)
	// One spool per process (it is locked), kept across restarts.
	cfg.InfluxDB.Spool.Dir = filepath.Join(dir, "spool-"+strings.ReplaceAll(roles, ",", "-"))
	cfg.Collector.PKIDir = filepath.Join(dir, "pki-"+strings.ReplaceAll(roles, ",", "-"))
	for li := range cfg.Lines {
		for mi := range cfg.Lines[li].Machines {
			cfg.Lines[li].Machines[mi].TrustedCertsDir = filepath.Join(cfg.Collector.PKIDir, "trusted")
		}
	}
	cfg.Collector.CommLossAlarmDelay = time.Second
	r, err := app.ParseRoles(roles)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", childEnv, err))
	}
	clk := &childClock{}
	steps := make(chan os.Signal, 1)
	signal.Notify(steps, syscall.SIGUSR1)
	go func() {
		for range steps {
			clk.offset.Add(int64(-60 * time.Second))
			log.Info("chaos child: wall clock stepped back 60 s")
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, app.Options{Config: cfg, Roles: r, Logger: log, CollectorClock: clk}); err != nil {
		return fail(err)
	}
	return 0
}
