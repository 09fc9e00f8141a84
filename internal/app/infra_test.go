package app

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/bus"
)

// TestEmbeddedNATSIsSecuredIntegration starts the infrastructure the way
// `linewatch run` does with nats.url empty: credentials appear in
// <data_dir>/nats-auth, an anonymous client is refused, each role connects
// with its own credential and permission set, and a restart keeps the keys.
func TestEmbeddedNATSIsSecuredIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	cfg := demoConfig(t)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))

	in, err := startInfra(t.Context(), cfg, log, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { in.close() }()
	if !in.perRole {
		t.Fatal("embedded server: connections do not use the role credentials")
	}
	dir := bus.CredentialsDir(cfg.DataDir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v %v", dir, err, fi)
	}
	for _, r := range bus.Roles {
		if fi, err := os.Stat(bus.SeedFile(dir, r)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s seed: %v %v", r, err, fi)
		}
	}
	if _, ok := in.conns[bus.RoleAdmin]; ok {
		t.Error("the admin connection stays open after the stream setup")
	}
	url := in.natsSrv.ClientURL()
	if nc, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous client: err = %v, want authorization violation", err)
	}
	onc, ojs, err := in.conn(t.Context(), bus.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ojs.Stream(t.Context(), bus.StreamAlarms); err != nil {
		t.Errorf("streams not set up, or the operator cannot see ALARMS: %v", err)
	}
	onc.Publish("linewatch.alarms.plant1.L1.urgent", []byte("{}"))
	onc.Flush()
	if e := onc.LastError(); e == nil || !strings.Contains(e.Error(), "Permissions Violation") {
		t.Errorf("operator connection of linewatch run may publish alarms (last error %v)", e)
	}
	before, _ := bus.LoadCredentials(dir)
	in.close()

	in, err = startInfra(t.Context(), cfg, log, false)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	after, _ := bus.LoadCredentials(dir)
	for _, r := range bus.Roles {
		if before.Public[r] != after.Public[r] {
			t.Errorf("%s key changed on restart", r)
		}
	}
}

func TestLocalURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://0.0.0.0:4222":   "nats://127.0.0.1:4222",
		"tls://[::]:4222":       "tls://127.0.0.1:4222",
		"tls://:4222":           "tls://127.0.0.1:4222",
		"nats://127.0.0.1:4222": "nats://127.0.0.1:4222",
		"tls://10.1.2.3:4222":   "tls://10.1.2.3:4222",
	} {
		if got := localURL(in); got != want {
			t.Errorf("localURL(%s) = %s, want %s", in, got, want)
		}
	}
}
