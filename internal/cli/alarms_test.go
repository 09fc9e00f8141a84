package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String() + errb.String(), code
}

// TestAlarmsAndAuditCommands drives the alarms and audit commands against
// a real alerts worker on the embedded NATS server secured as `linewatch
// run` secures it: the commands connect with the operator credential they
// find through -c FILE (data_dir), the alarm service with the alerts one.
func TestAlarmsAndAuditCommands(t *testing.T) {
	dataDir := t.TempDir()
	srv := testenv.SecureNATS(t, dataDir)
	url := srv.ClientURL()
	nc, _ := testenv.RoleConn(t, url, dataDir, bus.RoleAlerts)
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "lw.yaml")
	yaml := strings.Replace(string(config.DemoYAML), "data_dir: linewatch-data", "data_dir: "+dataDir, 1)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// lw runs a command with -c FILE: it finds the operator credential in data_dir.
	lw := func(args ...string) (string, int) { return runCLI(t, append(args, "-c", cfgPath)...) }
	// Without -c the command has no credential: refused, and told why.
	if out, code := runCLI(t, "alarms", "list", "--nats", url); code != ExitFailure || !strings.Contains(out, "Authorization Violation") || !strings.Contains(out, "pass -c FILE") {
		t.Fatalf("no credential (%d): %s", code, out)
	}

	svc, err := alerts.New(cfg, nc, alerts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	f := analytics.Finding{Time: time.Now().UTC(), Line: "filling1", Machine: "filler", Tag: "fill_weight", Detector: "cusum", Active: true, Value: 2.1, Limit: 2, Message: "fill weight drifting up"}
	if err := svc.Notify(ctx, []analytics.Finding{f}); err != nil {
		t.Fatal(err)
	}
	id := alerts.AlarmID(cfg.Site, f)

	// --data-dir instead of -c (the demo has no config file).
	if out, code := runCLI(t, "alarms", "list", "--nats", url, "--data-dir", dataDir); code != 0 {
		t.Fatalf("--data-dir (%d): %s", code, out)
	}
	out, code := lw("alarms", "list", "--nats", url, "--line", "filling1")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "unacknowledged") || !strings.Contains(out, "high") {
		t.Fatalf("list (%d):\n%s", code, out)
	}
	if out, code = lw("alarms", "ack", id, "--nats", url, "--operator", "mallory"); code != ExitFailure || !strings.Contains(out, "not_authorised") {
		t.Fatalf("unauthorised ack (%d): %s", code, out)
	}
	if out, code = lw("alarms", "ack", id, "--nats", url, "--operator", "alice", "--reason", "seen"); code != 0 || !strings.Contains(out, "unacknowledged → acknowledged") {
		t.Fatalf("ack (%d): %s", code, out)
	}
	t.Setenv("LINEWATCH_OPERATOR", "bob")
	if out, code = lw("alarms", "shelve", id, "--nats", url, "--for", "30m"); code != ExitFailure || !strings.Contains(out, "reason_required") {
		t.Fatalf("shelve without reason (%d): %s", code, out)
	}
	if out, code = lw("alarms", "shelve", id, "--nats", url, "--for", "30m", "--reason", "scale service"); code != 0 || !strings.Contains(out, "by bob") {
		t.Fatalf("shelve (%d): %s", code, out)
	}
	if out, code = lw("alarms", "comment", id, "--nats", url, "--text", "technician called"); code != 0 {
		t.Fatalf("comment (%d): %s", code, out)
	}
	if out, code = lw("alarms", "unshelve", id, "--nats", url); code != 0 || !strings.Contains(out, "shelved → unacknowledged") {
		t.Fatalf("unshelve (%d): %s", code, out)
	}
	if out, code = lw("alarms", "kpi", "--nats", url, "--since", "1h"); code != 0 || !strings.Contains(out, "annunciated alarms        1") || !strings.Contains(out, id) {
		t.Fatalf("kpi (%d):\n%s", code, out)
	}

	// The audit trail holds the commands (including the refused one) and verifies.
	if out, code = lw("audit", "verify", "--nats", url); code != 0 || !strings.Contains(out, "OK: 5 entries") {
		t.Fatalf("audit verify (%d): %s", code, out)
	}
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	if out, code = lw("audit", "export", "--nats", url, "-o", file); code != 0 {
		t.Fatalf("export (%d): %s", code, out)
	}
	if out, code = runCLI(t, "audit", "verify", "--file", file); code != 0 {
		t.Fatalf("verify file (%d): %s", code, out)
	}
	data, _ := os.ReadFile(file)
	tampered := strings.Replace(string(data), `"actor":"alice"`, `"actor":"carol"`, 1)
	os.WriteFile(file, []byte(tampered), 0o600)
	if out, code = runCLI(t, "audit", "verify", "--file", file); code != ExitFailure || !strings.Contains(out, "seq 2") || !strings.Contains(out, "modified") {
		t.Fatalf("tampered file (%d): %s", code, out)
	}
	if out, code = lw("audit", "export", "--nats", url, "--format", "csv", "--since", "1h"); code != 0 || !strings.HasPrefix(out, "seq,time,actor") || strings.Count(out, "\n") != 6 {
		t.Fatalf("csv (%d):\n%s", code, out)
	}
}

func TestFormatTransitionColours(t *testing.T) {
	tr := alerts.Transition{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Event: alerts.EvAck, From: alerts.Unacknowledged, To: alerts.Acknowledged,
		By: "alice", Alarm: alerts.Alarm{ID: "s/l/m/t/limits", Priority: alerts.Urgent}}
	plain := formatTransition(tr, false)
	if plain != "2026-01-02T03:04:05Z urgent  ack              unacknowledged → acknowledged  s/l/m/t/limits  by alice" {
		t.Fatalf("%q", plain)
	}
	if c := formatTransition(tr, true); !strings.Contains(c, "\x1b[1;97;41murgent\x1b[0m") {
		t.Fatalf("%q", c)
	}
}
