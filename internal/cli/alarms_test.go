package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
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
	cfg.MoveDataDir(dataDir)
	cfg.Console.UsersFile = filepath.Join(dataDir, "users")
	var users strings.Builder
	for _, u := range [][2]string{{"alice", "operator"}, {"bob", "operator"}, {"vera", "viewer"}} {
		h, _ := bcrypt.GenerateFromPassword([]byte("pw of "+u[0]), bcrypt.MinCost)
		users.WriteString(u[0] + ":" + u[1] + ":" + string(h) + "\n")
		os.WriteFile(filepath.Join(dataDir, u[0]+".pw"), []byte("pw of "+u[0]+"\n"), 0o600)
	}
	os.WriteFile(filepath.Join(dataDir, "wrong.pw"), []byte("guess\n"), 0o600)
	if err := os.WriteFile(cfg.Console.UsersFile, []byte(users.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sessions := filepath.Join(t.TempDir(), "cfg", "sessions.json")
	t.Setenv("LINEWATCH_SESSION_FILE", sessions)
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
	select { // logins before Run subscribed would find no responder
	case <-svc.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("alarm service stopped: %v", err)
	}

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
	// --operator is whom to log in as: without a login nothing is sent.
	if out, code = lw("alarms", "ack", id, "--nats", url, "--operator", "alice"); code != ExitFailure || !strings.Contains(out, "linewatch login --operator alice") {
		t.Fatalf("ack without login (%d): %s", code, out)
	}
	if out, code = lw("login", "--nats", url, "--operator", "vera", "--password-file", filepath.Join(dataDir, "vera.pw")); code != 0 || !strings.Contains(out, "logged in as vera (viewer)") {
		t.Fatalf("login vera (%d): %s", code, out)
	}
	if fi, err := os.Stat(sessions); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sessions file: %v %v", fi.Mode(), err)
	}
	if out, code = lw("alarms", "ack", id, "--nats", url, "--operator", "vera"); code != ExitFailure || !strings.Contains(out, "not_authorised") {
		t.Fatalf("viewer ack (%d): %s", code, out)
	}
	if out, code = lw("login", "--nats", url, "--operator", "alice", "--password-file", filepath.Join(dataDir, "wrong.pw")); code != ExitFailure || !strings.Contains(out, "bad_credentials") {
		t.Fatalf("wrong password (%d): %s", code, out)
	}
	if out, code = lw("alarms", "ack", id, "--nats", url, "--operator", "alice"); code != ExitFailure || !strings.Contains(out, "not logged in as alice") {
		t.Fatalf("vera's login used for alice (%d): %s", code, out)
	}
	if out, code = lw("login", "--nats", url, "--operator", "alice", "--password-file", filepath.Join(dataDir, "alice.pw")); code != 0 {
		t.Fatalf("login alice (%d): %s", code, out)
	}
	if out, code = lw("alarms", "ack", id, "--nats", url, "--operator", "alice", "--reason", "seen"); code != 0 || !strings.Contains(out, "unacknowledged → acknowledged") {
		t.Fatalf("ack (%d): %s", code, out)
	}
	t.Setenv("LINEWATCH_OPERATOR", "bob")
	t.Setenv("BOB_PW", "pw of bob")
	if out, code = lw("login", "--nats", url, "--password-env", "BOB_PW"); code != 0 || !strings.Contains(out, "logged in as bob") {
		t.Fatalf("login bob (%d): %s", code, out)
	}
	if out, code = lw("alarms", "shelve", id, "--nats", url, "--for", "30m", "--reason", " \t "); code != ExitFailure || !strings.Contains(out, "reason_required") {
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
	if out, code = lw("logout", "--nats", url); code != 0 || !strings.Contains(out, "logged out bob") {
		t.Fatalf("logout (%d): %s", code, out)
	}
	if out, code = lw("alarms", "comment", id, "--nats", url, "--text", "after logout"); code != ExitFailure || !strings.Contains(out, "not logged in") {
		t.Fatalf("comment after logout (%d): %s", code, out)
	}
	if out, code = lw("alarms", "kpi", "--nats", url, "--since", "1h"); code != 0 || !strings.Contains(out, "annunciated alarms        1") || !strings.Contains(out, id) {
		t.Fatalf("kpi (%d):\n%s", code, out)
	}

	// The audit trail holds logins and commands (including the refused
	// ones) and verifies: vera login, vera ack refused, alice login refused,
	// alice login, alice ack, bob login, bob shelve refused, bob shelve,
	// comment, unshelve, logout.
	if out, code = lw("audit", "verify", "--nats", url); code != 0 || !strings.Contains(out, "OK: 11 entries") {
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
	// As an operator client would (the alerts role may not send commands).
	opnc, _ := testenv.RoleConn(t, url, dataDir, bus.RoleOperator)
	for { // until the checkpointer answers
		if _, err := audit.RequestCheckpoint(ctx, opnc); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatal(err)
		}
	}
	if out, code = lw("audit", "export", "--nats", url, "-o", file); code != 0 {
		t.Fatalf("export (%d): %s", code, out)
	}
	if out, code = runCLI(t, append([]string{"audit", "verify", "--file", file}, trust...)...); code != 0 || !strings.Contains(out, "anchored: seq 1…11") {
		t.Fatalf("verify file (%d): %s", code, out)
	}
	if out, code = lw(append([]string{"audit", "verify", "--nats", url}, trust...)...); code != 0 || !strings.Contains(out, "anchored: seq 1…11") {
		t.Fatalf("verify live (%d): %s", code, out)
	}
	if out, code = runCLI(t, "audit", "verify", "--file", file); code != ExitUsage || !strings.Contains(out, "no trusted audit key") {
		t.Fatalf("verify file without a trusted key (%d): %s", code, out)
	}
	data, _ := os.ReadFile(file)
	tampered := strings.Replace(string(data), `"actor":"alice"`, `"actor":"carol"`, 1)
	os.WriteFile(file, []byte(tampered), 0o600)
	if out, code = runCLI(t, append([]string{"audit", "verify", "--file", file}, trust...)...); code != ExitFailure || !strings.Contains(out, "seq 4") || !strings.Contains(out, "modified") {
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
	if out, code = lw("audit", "export", "--nats", url, "--format", "csv", "--since", "1h"); code != 0 || !strings.HasPrefix(out, "seq,time,actor") || strings.Count(out, "\n") != 12 {
		t.Fatalf("csv (%d):\n%s", code, out)
	}

	// alarms watch: the current alarms first, then a typed ack goes out
	// with alice's login and its transition comes back on the feed.
	if out, code = lw("login", "--nats", url, "--operator", "alice", "--password-file", filepath.Join(dataDir, "alice.pw")); code != 0 {
		t.Fatalf("login alice (%d): %s", code, out)
	}
	wctx, wcancel := context.WithCancel(ctx)
	inR, inW := io.Pipe()
	var wout syncBuffer
	wdone := make(chan int, 1)
	go func() {
		wdone <- Main(wctx, []string{"alarms", "watch", "--nats", url, "-c", cfgPath, "--operator", "alice"}, inR, &wout, &wout)
	}()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second) // a real server answers
		for !strings.Contains(wout.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("watch output lacks %q:\n%s", what, wout.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("current alarms (1):")
	if first := wout.String(); !strings.Contains(first, id) || !strings.Contains(first, "2.100 g  2.000 g") || strings.Index(first, "current alarms") > strings.Index(first, "watching") && strings.Contains(first, "watching") {
		t.Fatalf("current alarms not first, or value without unit:\n%s", first)
	}
	waitFor("watching alarm transitions")
	io.WriteString(inW, "ack\n")
	waitFor("? ack ID [COMMENT]")
	io.WriteString(inW, "ack "+id+" seen from the watch\n")
	waitFor("unacknowledged → acknowledged  " + id + "  by alice (seen from the watch)")
	wcancel()
	inW.Close()
	if code := <-wdone; code != 0 {
		t.Fatalf("watch exit %d:\n%s", code, wout.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestFormatTransitionColours(t *testing.T) {
	tr := alerts.Transition{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Event: alerts.EvAck, From: alerts.Unacknowledged, To: alerts.Acknowledged,
		By: "alice", Alarm: alerts.Alarm{ID: "s/l/m/t/limits", Priority: alerts.Urgent}}
	plain := formatTransition(tr, false, nil)
	if plain != "2026-01-02 03:04:05 UTC urgent  ack              unacknowledged → acknowledged  s/l/m/t/limits  by alice" {
		t.Fatalf("%q", plain)
	}
	if c := formatTransition(tr, true, nil); !strings.Contains(c, "\x1b[1;97;41murgent\x1b[0m") {
		t.Fatalf("%q", c)
	}
}

// TestFormatTransitionUsesFormatter: watch lines carry the process time in
// the site zone and an activation's value and limit with the tag's unit
// and decimals (issue 18).
func TestFormatTransitionUsesFormatter(t *testing.T) {
	one := 1
	f := display.MustNew(&config.Config{TimeZone: "Europe/Dublin", Lines: []config.Line{{ID: "cold", Machines: []config.Machine{
		{ID: "room1", Tags: []config.Tag{{Name: "temp", Unit: "°C", Decimals: &one}}}}}}})
	plant := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	tr := alerts.Transition{Time: plant.Add(6 * time.Hour), ProcessTime: plant, Event: alerts.EvActivate, From: alerts.Normal, To: alerts.Unacknowledged,
		Alarm: alerts.Alarm{ID: "s/cold/room1/temp/limits/hi", Line: "cold", Machine: "room1", Tag: "temp", Priority: alerts.High,
			Value: 9.731630066159267, Limit: 10, Message: "temp hi alarm started"}}
	want := "2026-07-01 09:00:00 IST high    activate         normal → unacknowledged  s/cold/room1/temp/limits/hi  9.7 °C (limit 10.0 °C)  temp hi alarm started"
	if got := formatTransition(tr, false, f); got != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
	var b strings.Builder
	if err := writeAlarmTable(&b, []alerts.Alarm{tr.Alarm}, f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "9.7 °C  10.0 °C") {
		t.Fatalf("table:\n%s", b.String())
	}
}

func TestParseWatchCommand(t *testing.T) {
	for _, c := range []struct {
		in, verb string
		cmd      alerts.Command
		err      string
	}{
		{"", "", alerts.Command{}, ""},
		{"   ", "", alerts.Command{}, ""},
		{"help", "help", alerts.Command{}, ""},
		{"ack s/l/m/t/limits/hi", "ack", alerts.Command{Alarm: "s/l/m/t/limits/hi"}, ""},
		{"ack s/l/m/t/limits/hi  checked  the probe ", "ack", alerts.Command{Alarm: "s/l/m/t/limits/hi", Reason: "checked  the probe"}, ""},
		{"shelve s/l/m/t/limits/hi 30m sensor being replaced", "shelve", alerts.Command{Alarm: "s/l/m/t/limits/hi", Duration: "30m0s", Reason: "sensor being replaced"}, ""},
		{"shelve s/l/m/t/limits/hi 30m", "", alerts.Command{}, "shelve ID DURATION REASON"},
		{"shelve s/l/m/t/limits/hi soon because", "", alerts.Command{}, `duration "soon"`},
		{"shelve s/l/m/t/limits/hi -5m because", "", alerts.Command{}, `duration "-5m"`},
		{"unshelve s/l/m/t/limits/hi", "unshelve", alerts.Command{Alarm: "s/l/m/t/limits/hi"}, ""},
		{"ack", "", alerts.Command{}, "ack ID"},
		{"reset x", "", alerts.Command{}, `unknown command "reset"`},
	} {
		verb, cmd, err := parseWatchCommand(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || verb != c.verb || cmd != c.cmd {
			t.Errorf("%q: %q %+v %v; want %q %+v", c.in, verb, cmd, err, c.verb, c.cmd)
		}
	}
}

func FuzzParseWatchCommand(f *testing.F) {
	for _, s := range []string{"ack a b", "shelve a 1h r", "unshelve a", "help", "\x00ack \u202e", "shelve a 1e9h x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		verb, c, err := parseWatchCommand(s)
		if err != nil {
			return
		}
		switch verb {
		case "", "help":
		case alerts.VerbAck, alerts.VerbUnshelve:
			if c.Alarm == "" || strings.ContainsFunc(c.Alarm, unicode.IsSpace) {
				t.Fatalf("%q: alarm %q", s, c.Alarm)
			}
		case alerts.VerbShelve:
			if d, err := time.ParseDuration(c.Duration); err != nil || d <= 0 || c.Reason == "" {
				t.Fatalf("%q: %+v", s, c)
			}
		default:
			t.Fatalf("%q: verb %q", s, verb)
		}
	})
}
