package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoRefusesAPreviousRun: a fresh demo on a data dir with a previous
// run stops before starting anything and names the dir and both ways out
// (issue 18: re-running silently mixed the runs); --resume goes on.
func TestDemoRefusesAPreviousRun(t *testing.T) {
	for _, c := range []struct {
		name   string
		files  []string
		resume bool
		want   string // "" = accepted
	}{
		{"new dir", nil, false, ""},
		{"only console logins", []string{"console-users"}, false, ""},
		{"alarms and audit in NATS", []string{"nats/jetstream/x"}, false, "holds a previous demo run"},
		{"InfluxDB data", []string{"influxdb/data/x"}, false, "holds a previous demo run"},
		{"resume", []string{"nats/jetstream/x"}, true, ""},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		for _, f := range c.files {
			p := filepath.Join(dir, f)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("x"), 0o600)
		}
		err := checkFresh(dir, c.resume)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) ||
			!strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "--data-dir NEW_DIR") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Run refuses before it starts anything (no port taken, no dir written).
	dir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(filepath.Join(dir, "nats", "jetstream"), 0o755)
	os.WriteFile(filepath.Join(dir, "nats", "jetstream", "x"), nil, 0o600)
	err := Run(context.Background(), Options{DataDir: dir, Out: &strings.Builder{}})
	if err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "console-users")); err == nil {
		t.Error("Run wrote into the refused data dir")
	}
}
