package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/store"
)

// TestStartupErrorReleasesSpoolIntegration: when start-up fails after the
// InfluxDB writer was made (here: the console's TLS certificate is
// missing), Run returns the error and the spool directory is free again,
// so a second start in the same process can open it.
func TestStartupErrorReleasesSpoolIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	cfg := demoConfig(t)
	cfg.Collector.MetricsListen = "off"
	cfg.InfluxDB.URL = "http://127.0.0.1:1" // never contacted: the writer does not run
	cfg.InfluxDB.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	cfg.Console.Listen = "127.0.0.1:0"
	cfg.Console.UsersFile = filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(cfg.Console.UsersFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Console.TLS.CertFile = filepath.Join(t.TempDir(), "missing.crt")
	cfg.Console.TLS.KeyFile = filepath.Join(t.TempDir(), "missing.key")
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))

	err := Run(t.Context(), Options{Config: cfg, Roles: Roles{Analytics: true, Console: true}, Logger: log})
	if err == nil || !strings.Contains(err.Error(), "console TLS") {
		t.Fatalf("Run: %v, want the console TLS error", err)
	}
	w, err := store.NewWriter(cfg.InfluxDB, store.WriterOptions{Logger: log})
	if err != nil {
		t.Fatalf("spool directory still held after the failed start-up: %v", err)
	}
	w.Close()
}

// demoConfig is the demo config with its data under the test's temp dir
// and the embedded NATS server on a free port.
func demoConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MoveDataDir(t.TempDir())
	cfg.NATS.Embedded.Listen = "127.0.0.1:0"
	cfg.NATS.Embedded.StoreDir = cfg.DataDir + "/nats"
	return cfg
}
