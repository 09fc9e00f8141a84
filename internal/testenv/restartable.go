package testenv

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
)

// RestartableNATS is an embedded NATS server that a test stops and starts
// again on the same port and JetStream store, and a client connected with
// linewatch's reconnect settings (bus.Connect), so it rides the restart.
type RestartableNATS struct {
	NC   *nats.Conn
	t    testing.TB
	srv  *server.Server
	port int
	dir  string
}

// NewRestartableNATS starts the server and connects client name to it.
func NewRestartableNATS(t testing.TB, name string) *RestartableNATS {
	t.Helper()
	r := &RestartableNATS{t: t, dir: t.TempDir()}
	r.srv = NATS(t, func(o *server.Options) { o.StoreDir = r.dir })
	r.port = r.srv.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, config.NATS{}, r.srv.ClientURL(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r.NC = nc
	return r
}

// Stop shuts the server down and waits until it is gone.
func (r *RestartableNATS) Stop() {
	r.srv.Shutdown()
	r.srv.WaitForShutdown()
}

// Start starts the server again on the same port and store.
func (r *RestartableNATS) Start() {
	r.t.Helper()
	srv, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: fmt.Sprintf("127.0.0.1:%d", r.port), StoreDir: r.dir, Anonymous: true})
	if err != nil {
		r.t.Fatal(err)
	}
	r.srv = srv
	r.t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
}
