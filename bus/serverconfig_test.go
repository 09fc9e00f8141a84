package bus_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
)

// The rendered file, read back by nats-server's own parser, gives every
// role exactly the permission set the embedded server applies.
func TestServerConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	text, err := bus.ServerConfig(bus.ServerConfigOptions{
		Name: "n1", Listen: "127.0.0.1:4222", StoreDir: filepath.Join(dir, "js with space"), MaxFileStore: 1 << 30,
		Cluster: "linewatch", ClusterListen: "127.0.0.1:6222",
		Routes:      []string{"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"},
		Credentials: creds, HTTP: "127.0.0.1:8222",
	})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(writeFile(t, "n1.conf", []byte(text)))
	if err != nil {
		t.Fatalf("nats-server cannot read the rendered config: %v\n%s", err, text)
	}
	if opts.ServerName != "n1" || opts.Port != 4222 || !opts.JetStream || opts.StoreDir != filepath.Join(dir, "js with space") ||
		opts.JetStreamMaxStore != 1<<30 || opts.Cluster.Name != "linewatch" || opts.Cluster.Port != 6222 || len(opts.Routes) != 3 || opts.HTTPPort != 8222 {
		t.Errorf("options read back: name %q port %d js %v store %q max %d cluster %q:%d routes %d http %d",
			opts.ServerName, opts.Port, opts.JetStream, opts.StoreDir, opts.JetStreamMaxStore, opts.Cluster.Name, opts.Cluster.Port, len(opts.Routes), opts.HTTPPort)
	}
	if len(opts.Nkeys) != len(bus.Roles) {
		t.Fatalf("%d nkey users, want %d", len(opts.Nkeys), len(bus.Roles))
	}
	for i, r := range bus.Roles {
		u := opts.Nkeys[i]
		if u.Nkey != creds.Public[r] {
			t.Errorf("user %d: nkey %s, want role %s's %s", i, u.Nkey, r, creds.Public[r])
		}
		want := bus.Permissions(r)
		if want == nil {
			if u.Permissions != nil {
				t.Errorf("role %s: permissions %+v, want none (full access)", r, u.Permissions)
			}
			continue
		}
		if u.Permissions == nil {
			t.Fatalf("role %s: no permissions read back", r)
		}
		if !reflect.DeepEqual(norm(u.Permissions.Publish), norm(want.Publish)) {
			t.Errorf("role %s publish:\n got %+v\nwant %+v", r, u.Permissions.Publish, want.Publish)
		}
		if !reflect.DeepEqual(norm(u.Permissions.Subscribe), norm(want.Subscribe)) {
			t.Errorf("role %s subscribe:\n got %+v\nwant %+v", r, u.Permissions.Subscribe, want.Subscribe)
		}
		if (want.Response == nil) != (u.Permissions.Response == nil) ||
			(want.Response != nil && want.Response.MaxMsgs != u.Permissions.Response.MaxMsgs) {
			t.Errorf("role %s responses: got %+v, want %+v", r, u.Permissions.Response, want.Response)
		}
	}
}

func norm(p *server.SubjectPermission) *server.SubjectPermission {
	if p == nil {
		return &server.SubjectPermission{}
	}
	out := &server.SubjectPermission{}
	if len(p.Allow) > 0 {
		out.Allow = p.Allow
	}
	if len(p.Deny) > 0 {
		out.Deny = p.Deny
	}
	return out
}

func TestServerConfigErrors(t *testing.T) {
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    bus.ServerConfigOptions
		want string
	}{
		{bus.ServerConfigOptions{Listen: "127.0.0.1:1", StoreDir: "/x", Credentials: creds}, "name and store dir required"},
		{bus.ServerConfigOptions{Name: "n1", Listen: "127.0.0.1:1", StoreDir: "/x"}, "role credentials required"},
		{bus.ServerConfigOptions{Name: "n1", Listen: "nope", StoreDir: "/x", Credentials: creds}, `listen "nope"`},
		{bus.ServerConfigOptions{Name: "n1", Listen: "127.0.0.1:1", StoreDir: "/x", Credentials: creds, Cluster: "c"}, `cluster listen ""`},
	} {
		if _, err := bus.ServerConfig(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
}

// A server started from the rendered file enforces the roles: anonymous
// refused, the collector may publish telemetry and not alarms.
func TestServerConfigEnforcedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	dir := t.TempDir()
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	text, err := bus.ServerConfig(bus.ServerConfigOptions{Name: "n1", Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "js"), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "n1.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	opts.Port, opts.NoLog, opts.NoSigs = -1, true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("anonymous client accepted")
	}
	ncfg := config.NATS{NKeyFile: bus.SeedFile(creds.Dir, bus.RoleCollector)}
	nc, err := connect(t, ncfg, s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if permissionDenied(t, nc, "linewatch.telemetry.s.l.m") {
		t.Error("collector refused telemetry")
	}
	if !permissionDenied(t, nc, "linewatch.alarms.s.l.high") {
		t.Error("collector allowed to publish alarms")
	}
}
