package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/testenv"
)

// TestConfigDemoWorksWhileTheDemoRunsIntegration: the output of `config
// demo --data-dir D` is accepted by the commands that read InfluxDB while
// a demo on D runs (issue 18: "influxdb.url is empty" from batches list,
// analyze replay and report batch). The demo's embedded InfluxDB is stood
// for by the test InfluxDB, recorded where the demo records its URL.
func TestConfigDemoWorksWhileTheDemoRunsIntegration(t *testing.T) {
	db := testenv.Influx(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "demo data")
	out, code := runCLI(t, "config", "demo", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "data_dir: "+dataDir) {
		t.Fatalf("config demo (%d): %s", code, out)
	}
	out = strings.Replace(out, "database: linewatch", "database: "+db.Database, 1)
	cfgPath := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(cfgPath, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	// No demo running: the command says what is missing.
	if out, code := runCLI(t, "batches", "list", "-c", cfgPath); code != ExitFailure || !strings.Contains(out, "influxdb.url is empty") {
		t.Fatalf("without a running demo (%d): %s", code, out)
	}
	os.MkdirAll(filepath.Dir(app.EmbeddedInfluxURLFile(dataDir)), 0o755)
	if err := os.WriteFile(app.EmbeddedInfluxURLFile(dataDir), []byte(db.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"batches", "list", "-c", cfgPath},
		{"analyze", "replay", "-c", cfgPath, "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T01:00:00Z"},
	} {
		out, code := runCLI(t, args...)
		if code != 0 || strings.Contains(out, "influxdb.url is empty") {
			t.Errorf("%s (%d): %s", strings.Join(args[:2], " "), code, out)
		}
	}
	if out, _ := runCLI(t, "batches", "list", "-c", cfgPath); !strings.HasPrefix(out, "BATCH") {
		t.Errorf("batches list: %q", out)
	}
}
