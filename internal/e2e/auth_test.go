package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
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
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/cli"
	"github.com/linewatch/linewatch/internal/demo"
	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The real alarm service and console of `linewatch run`: a person logs in
// at the console or with `linewatch login`, commands carry their token,
// and a command naming a supervisor without proof is refused and audited.
func TestAuthenticatedCommandsEndToEndIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB, NATS and linewatch")
	}
	srv := testenv.NATS(t)
	influx := testenv.StartInflux(t, influxd.Options{})
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	demo.PointAt(cfg, dir, influx.URL(), srv.ClientURL(), "opc.tcp://127.0.0.1:1", time.Second)
	cfg.Console.Listen = freeAddr(t)
	cfg.Console.UsersFile = filepath.Join(dir, "users")
	var users strings.Builder
	for _, u := range [][3]string{{"alice", "operator", "alice's long password"}, {"carol", "supervisor", "carol's long password"}} {
		line, err := identity.HashUser(u[0], u[1], u[2])
		if err != nil {
			t.Fatal(err)
		}
		users.WriteString(line + "\n")
	}
	if err := os.WriteFile(cfg.Console.UsersFile, []byte(users.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan app.Info, 1), make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		done <- app.Run(ctx, app.Options{Config: cfg, Roles: app.Roles{Alerts: true, Console: true}, Logger: log,
			OnReady: func(i app.Info) { ready <- i }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var info app.Info
	select {
	case info = <-ready:
	case err := <-done:
		done <- err // for the cleanup, which waits for Run to return
		t.Fatalf("linewatch run: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("linewatch did not start within 60 s")
	}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	f := analytics.Finding{Time: time.Now().UTC(), Line: "coldroom1", Machine: "coldroom", Tag: "temp_probe1", Detector: "limits",
		Rule: "hi", Active: true, Value: 9.1, Limit: 8, Message: "cold room above 8 °C"}
	f.ID = analytics.MakeID(f)
	b, _ := json.Marshal(f)
	if _, err := js.Publish(ctx, bus.FindingSubject(cfg.Site, f.Line), b); err != nil {
		t.Fatal(err)
	}
	id := alerts.AlarmID(cfg.Site, f)
	st := alerts.NewReader(js)
	kv, err := js.KeyValue(ctx, alerts.Bucket) // made before OnReady
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	w, err := kv.Watch(wctx, alerts.Key(id))
	if err != nil {
		t.Fatal(err)
	}
	for raised := false; !raised; {
		select {
		case e := <-w.Updates():
			if e != nil {
				a, _, err := st.Get(ctx, id)
				raised = err == nil && a.State == alerts.Unacknowledged
			}
		case <-wctx.Done():
			t.Fatal("alarm not raised within 30 s")
		}
	}
	w.Stop()
	wcancel()

	// Today's attack: a v=1 command naming the supervisor.
	m, err := nc.Request(bus.CmdSubject(alerts.VerbOutOfService), []byte(`{"v":1,"alarm":"`+id+`","operator":"carol","reason":"x"}`), 10*time.Second)
	if err != nil || !strings.Contains(string(m.Data), alerts.CodeOldCommand) {
		t.Fatalf("forged command: %v %s", err, m.Data)
	}

	// The console: alice logs in and acknowledges with her own token.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	post := func(path string, body any, csrf string) (int, map[string]any) {
		bb, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", info.ConsoleURL+path, bytes.NewReader(bb))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		rb, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(rb, &out)
		return resp.StatusCode, out
	}
	code, me := post("/api/login", map[string]string{"user": "alice", "password": "alice's long password"}, "")
	if code != 200 {
		t.Fatalf("console login: %d %v", code, me)
	}
	csrf, _ := me["csrf"].(string)
	if code, rep := post("/api/alarms/shelve", map[string]string{"alarm": id, "duration": "30m", "reason": "check"}, csrf); code != 409 || rep["code"] != alerts.CodeNotAuthorised {
		t.Fatalf("alice shelving an urgent alarm: %d %v", code, rep)
	}
	if code, rep := post("/api/alarms/ack", map[string]string{"alarm": id}, csrf); code != 200 || rep["ok"] != true {
		t.Fatalf("console ack: %d %v", code, rep)
	}

	// The CLI: carol logs in and shelves the urgent alarm.
	pwFile := filepath.Join(dir, "carol.pw")
	os.WriteFile(pwFile, []byte("carol's long password\n"), 0o600)
	t.Setenv("LINEWATCH_SESSION_FILE", filepath.Join(dir, "sessions.json"))
	var out bytes.Buffer
	if rc := cli.Main(ctx, []string{"login", "--nats", srv.ClientURL(), "--operator", "carol", "--password-file", pwFile}, strings.NewReader(""), &out, &out); rc != 0 {
		t.Fatalf("linewatch login: %d %s", rc, out.String())
	}
	out.Reset()
	if rc := cli.Main(ctx, []string{"alarms", "shelve", id, "--nats", srv.ClientURL(), "--operator", "carol", "--for", "1h", "--reason", "probe replaced"}, strings.NewReader(""), &out, &out); rc != 0 || !strings.Contains(out.String(), "by carol") {
		t.Fatalf("linewatch alarms shelve: %d %s", rc, out.String())
	}

	a, _, err := st.Get(ctx, id)
	if err != nil || a.AckedBy != "alice" || a.ShelvedBy != "carol" || a.State != alerts.Shelved {
		t.Fatalf("alarm %+v %v", a, err)
	}
	es, err := audit.ReadStream(ctx, js, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "alarm.") {
			got = append(got, e.Actor+" "+e.Action)
		}
	}
	want := "claimed:carol alarm.out_of_service.denied|alice alarm.shelve.denied|alice alarm.ack|carol alarm.shelve"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit %q, want %q", strings.Join(got, "|"), want)
	}
}
