package console_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/console"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

// operatorPermissions is the "operator" role of docs/nats-security.md
// (send commands, read alarm state, history and the audit trail, nothing
// else), as the embedded server applies it.
var operatorPermissions = bus.Permissions(bus.RoleOperator)

// TestConsoleWithOperatorPermissions runs the console as a NATS user with
// only the operator role's permissions and checks it still works, and that
// this user cannot forge alarm state or transitions.
func TestConsoleWithOperatorPermissions(t *testing.T) {
	s := testenv.NATS(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "alerts", Password: "alerts-pw"}, // the alarm service: full access in this test
			{Username: "console", Password: "console-pw", Permissions: operatorPermissions},
		}
	})
	ctx := context.Background()
	admin, err := nats.Connect(s.ClientURL(), nats.UserInfo("alerts", "alerts-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	js, _ := jetstream.New(admin)
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	usersFile := writeUsers(t)
	svc := newAlarmService(t, admin, js, clk, usersFile)
	old := svc.activate("L1", "press", alerts.Low, "reject rate drifting")

	var errMu sync.Mutex
	var lastErr error
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("console", "console-pw"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			errMu.Lock()
			lastErr = err
			errMu.Unlock()
		}))
	getErr := func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return lastErr
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	r := &consoleRig{nc: nc, js: js, clk: clk, svc: svc}
	r.file = usersFile
	r.srv, err = console.New(console.Options{NATS: nc, Site: "plant1", UsersFile: r.file, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.srv.Serve(sctx, ln, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	r.url = "http://" + ln.Addr().String()

	c := r.client(t)
	c.login("alice", alicePW)
	ev := c.events()
	// The alarm (KV watch) and its transition (ALARMS consumer) arrive in
	// the snapshot or as updates, depending on timing.
	var haveAlarm, haveEvent bool
	waitEvent(t, ev, "alarm from the KV watch and transition from ALARMS", func(e sseEvent) bool {
		if e.name == "snapshot" {
			list, _ := e.data["rows"].([]any)
			evs, _ := e.data["events"].([]any)
			haveAlarm, haveEvent = len(list) == 1, len(evs) == 1
		}
		haveAlarm = haveAlarm || isAlarmUpdate(old.ID, "unacknowledged")(e)
		haveEvent = haveEvent || e.data["type"] == "event"
		return haveAlarm && haveEvent
	})
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": old.ID}); code != 200 || m["ok"] != true {
		t.Fatalf("ack as a permission-restricted user: %d %v", code, m)
	}
	waitEvent(t, ev, "acknowledged", isAlarmUpdate(old.ID, "acknowledged"))

	for _, subj := range []string{"$KV.LINEWATCH_ALARMS.plant1.L1.press.temp.limit", "linewatch.alarms.plant1.L1.urgent", "linewatch.telemetry.plant1.L1.press"} {
		errMu.Lock()
		lastErr = nil
		errMu.Unlock()
		if err := nc.Publish(subj, []byte(`{"state":"normal"}`)); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for getErr() == nil && time.Now().Before(deadline) {
			if err := nc.Flush(); err != nil { // the async error handler runs after the -ERR
				t.Fatal(err)
			}
		}
		if err := getErr(); err == nil || !strings.Contains(err.Error(), "Permissions Violation") {
			t.Errorf("operator user could publish on %s (err %v)", subj, err)
		}
	}
}
