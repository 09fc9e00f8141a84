package notify_test

import (
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

// alertsPermissions is the "alerts" role of docs/nats-security.md (alarm
// service + notifiers), as the embedded server applies it.
var alertsPermissions = bus.Permissions(bus.RoleAlerts)

// TestNotifierWithAlertsPermissions runs a notifier as a NATS user with only
// the alerts role's permissions.
func TestNotifierWithAlertsPermissions(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	s := testenv.NATS(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "admin", Password: "admin-pw"}, // deploy-time stream setup
			{Username: "alerts", Password: "alerts-pw", Permissions: alertsPermissions},
		}
	})
	ctx := context.Background()
	admin, err := nats.Connect(s.ClientURL(), nats.UserInfo("admin", "admin-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	adminJS, _ := jetstream.New(admin)
	if err := bus.EnsureStreams(ctx, adminJS, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	nc, err := bus.Connect(ctx, config.NATS{User: "alerts", PasswordEnv: "LW_TEST_ALERTS_PW"}, s.ClientURL(), "alerts", nil)
	if err == nil {
		t.Fatal("connected without the password variable set")
	}
	t.Setenv("LW_TEST_ALERTS_PW", "alerts-pw")
	nc, err = bus.Connect(ctx, config.NATS{User: "alerts", PasswordEnv: "LW_TEST_ALERTS_PW"}, s.ClientURL(), "alerts", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)

	rx := newReceiver(t)
	svc := newAlarmService(t, js) // the alarm service's writes, with the same permissions
	n, err := notify.New(ctx, notify.Options{JS: js, Clock: clock.NewFake(t0),
		Alarms: config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}}})
	if err != nil {
		t.Fatalf("notifier with alerts permissions: %v", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = n.Run(rctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	a := testAlarm("L1", "filler", alerts.High)
	tr := svc.activate(&a, t0)
	if got := rx.next(t); got.p.Payload.Transition.ID != tr.ID {
		t.Errorf("delivered %s, want %s", got.p.Payload.Transition.ID, tr.ID)
	}
}
