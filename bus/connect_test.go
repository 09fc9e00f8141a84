package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

// firstWarn closes ch at the first warning logged.
type firstWarn struct {
	once sync.Once
	ch   chan struct{}
}

func (h *firstWarn) Enabled(context.Context, slog.Level) bool { return true }
func (h *firstWarn) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *firstWarn) WithGroup(string) slog.Handler            { return h }
func (h *firstWarn) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1", l.Addr().(*net.TCPAddr).Port
}

// A role started before any NATS server answers (a cluster booting with
// the roles) waits for one instead of exiting.
func TestConnectWaitsForServerIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	host, port := freeAddr(t)
	url := fmt.Sprintf("nats://%s:%d", host, port)
	h := &firstWarn{ch: make(chan struct{})}
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := bus.Connect(t.Context(), config.NATS{}, url, "test", slog.New(h))
		if nc != nil {
			defer nc.Close()
		}
		done <- result{nc != nil && nc.IsConnected(), err}
	}()
	select {
	case <-h.ch:
	case r := <-done:
		t.Fatalf("Connect returned before any server listened: connected %v, err %v", r.ok, r.err)
	case <-time.After(20 * time.Second):
		t.Fatal("no retry warning within 20 s")
	}
	s, err := server.NewServer(&server.Options{Host: host, Port: port, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	select {
	case r := <-done:
		if r.err != nil || !r.ok {
			t.Fatalf("Connect after the server came up: connected %v, err %v", r.ok, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Connect did not return within 30 s of the server starting")
	}
}

// A server that answers and refuses the client is reported at once, not
// retried: a wrong password does not heal by waiting.
func TestConnectRefusedIsPermanentIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, Username: "u", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	t.Setenv("LW_TEST_NATS_PW", "wrong")
	nc, err := bus.Connect(ctx, config.NATS{User: "u", PasswordEnv: "LW_TEST_NATS_PW"}, s.ClientURL(), "test", slog.New(slog.DiscardHandler))
	if nc != nil {
		nc.Close()
	}
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "uthorization") {
		t.Fatalf("wrong password: err %v, ctx %v; want an authorization error before the deadline", err, ctx.Err())
	}
}
