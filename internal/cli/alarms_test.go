package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/edkey"
	"github.com/linewatch/linewatch/internal/testenv"
)

func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String() + errb.String(), code
}

// TestAlarmsAndAuditCommands drives the alarms and audit commands against
// a real alerts worker on embedded NATS.
func TestAlarmsAndAuditCommands(t *testing.T) {
	srv := testenv.NATS(t)
	url := srv.ClientURL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
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

	out, code := runCLI(t, "alarms", "list", "--nats", url, "--line", "filling1")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "unacknowledged") || !strings.Contains(out, "high") {
		t.Fatalf("list (%d):\n%s", code, out)
	}
	if out, code = runCLI(t, "alarms", "ack", id, "--nats", url, "--operator", "mallory"); code != ExitFailure || !strings.Contains(out, "not_authorised") {
		t.Fatalf("unauthorised ack (%d): %s", code, out)
	}
	if out, code = runCLI(t, "alarms", "ack", id, "--nats", url, "--operator", "alice", "--reason", "seen"); code != 0 || !strings.Contains(out, "unacknowledged → acknowledged") {
		t.Fatalf("ack (%d): %s", code, out)
	}
	t.Setenv("LINEWATCH_OPERATOR", "bob")
	if out, code = runCLI(t, "alarms", "shelve", id, "--nats", url, "--for", "30m"); code != ExitFailure || !strings.Contains(out, "reason_required") {
		t.Fatalf("shelve without reason (%d): %s", code, out)
	}
	if out, code = runCLI(t, "alarms", "shelve", id, "--nats", url, "--for", "30m", "--reason", "scale service"); code != 0 || !strings.Contains(out, "by bob") {
		t.Fatalf("shelve (%d): %s", code, out)
	}
	if out, code = runCLI(t, "alarms", "comment", id, "--nats", url, "--text", "technician called"); code != 0 {
		t.Fatalf("comment (%d): %s", code, out)
	}
	if out, code = runCLI(t, "alarms", "unshelve", id, "--nats", url); code != 0 || !strings.Contains(out, "shelved → unacknowledged") {
		t.Fatalf("unshelve (%d): %s", code, out)
	}
	if out, code = runCLI(t, "alarms", "kpi", "--nats", url, "--since", "1h"); code != 0 || !strings.Contains(out, "annunciated alarms        1") || !strings.Contains(out, id) {
		t.Fatalf("kpi (%d):\n%s", code, out)
	}

	// The audit trail holds the commands (including the refused one) and verifies.
	if out, code = runCLI(t, "audit", "verify", "--nats", url); code != 0 || !strings.Contains(out, "OK: 5 entries") {
		t.Fatalf("audit verify (%d): %s", code, out)
	}
	// The audit service's checkpointer signs the head for the export.
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	key, err := edkey.Generate(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	cp, err := audit.NewCheckpointer(ctx, js, audit.CheckpointerOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	go cp.Run(ctx)
	trust := []string{"--trusted-key", edkey.PublicFile(keyFile)}
	file := filepath.Join(dir, "audit.jsonl")
	for { // until the checkpointer answers
		if _, err := audit.RequestCheckpoint(ctx, nc); err == nil {
			break
		}
	}
	if out, code = runCLI(t, "audit", "export", "--nats", url, "-o", file); code != 0 {
		t.Fatalf("export (%d): %s", code, out)
	}
	if out, code = runCLI(t, append([]string{"audit", "verify", "--file", file}, trust...)...); code != 0 || !strings.Contains(out, "anchored: seq 1…5") {
		t.Fatalf("verify file (%d): %s", code, out)
	}
	if out, code = runCLI(t, append([]string{"audit", "verify", "--nats", url}, trust...)...); code != 0 || !strings.Contains(out, "anchored: seq 1…5") {
		t.Fatalf("verify live (%d): %s", code, out)
	}
	if out, code = runCLI(t, "audit", "verify", "--file", file); code != ExitUsage || !strings.Contains(out, "no trusted audit key") {
		t.Fatalf("verify file without a trusted key (%d): %s", code, out)
	}
	data, _ := os.ReadFile(file)
	tampered := strings.Replace(string(data), `"actor":"alice"`, `"actor":"carol"`, 1)
	os.WriteFile(file, []byte(tampered), 0o600)
	if out, code = runCLI(t, append([]string{"audit", "verify", "--file", file}, trust...)...); code != ExitFailure || !strings.Contains(out, "seq 2") || !strings.Contains(out, "modified") {
		t.Fatalf("tampered file (%d): %s", code, out)
	}
	// The attack of issue 15: actor changed, every later hash recomputed,
	// the last entry dropped (and its checkpoint kept, or dropped too).
	entries, cps, err := audit.ReadExport(strings.NewReader(string(data)))
	if err != nil || len(cps) != 1 {
		t.Fatalf("export: %v, %d checkpoints", err, len(cps))
	}
	entries[1].Actor = "carol"
	for i := 1; i < len(entries); i++ {
		entries[i] = entries[i].Seal(&entries[i-1])
	}
	for _, c := range []struct {
		cps  []audit.Checkpoint
		want string
	}{{cps, "truncated"}, {nil, "not covered by a checkpoint"}} {
		var buf bytes.Buffer
		audit.WriteExport(&buf, entries[:len(entries)-1], c.cps)
		forged := filepath.Join(dir, "forged.jsonl")
		os.Remove(forged)
		os.WriteFile(forged, buf.Bytes(), 0o600)
		if out, code = runCLI(t, append([]string{"audit", "verify", "--file", forged}, trust...)...); code != ExitFailure || !strings.Contains(out, c.want) {
			t.Fatalf("rewritten export (%d): %s", code, out)
		}
	}
	if out, code = runCLI(t, "audit", "export", "--nats", url, "--format", "csv", "--since", "1h"); code != 0 || !strings.HasPrefix(out, "seq,time,actor") || strings.Count(out, "\n") != 6 {
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
