package demo

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/testenv"
)

// firstError is a slog handler that remembers when the first error was
// logged (the moment a component failed).
type firstError struct {
	slog.Handler
	mu sync.Mutex
	at time.Time
}

func (h *firstError) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.mu.Lock()
		if h.at.IsZero() {
			h.at = time.Now()
		}
		h.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

// TestBusyPortStopsTheDemoIntegration: with the console's port held by
// another program the demo stops by itself within 5 s of the failure,
// says why, and leaves no simulator listening (issue 18: it logged
// "shutting down" and hung with the simulator still up). Real sockets on
// the demo's fixed ports: skipped when another program already uses one.
func TestBusyPortStopsTheDemoIntegration(t *testing.T) {
	testenv.SkipShort(t, "the whole demo")
	for _, addr := range []string{"127.0.0.1:4840", "127.0.0.1:4841", "127.0.0.1:4222", "127.0.0.1:9464"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("%s is in use by another program: %v", addr, err)
		}
		l.Close()
	}
	busy, err := net.Listen("tcp", "127.0.0.1:8080") // the demo console's port
	if err != nil {
		t.Skipf("127.0.0.1:8080 is in use by another program: %v", err)
	}
	defer busy.Close()
	var logs bytes.Buffer
	h := &firstError{Handler: slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelWarn})}
	done := make(chan error, 1)
	var out syncWriter
	out.w = &bytes.Buffer{}
	go func() {
		done <- Run(context.Background(), Options{DataDir: t.TempDir(), Out: &out, Logger: slog.New(h), NoFaults: true})
	}()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(3 * time.Minute): // the first run builds InfluxDB
		t.Fatalf("the demo did not stop with its console port busy:\n%s", logs.String())
	}
	returned := time.Now()
	if runErr == nil || !strings.Contains(runErr.Error(), "8080") {
		t.Fatalf("error %v does not name the busy port\n%s", runErr, logs.String())
	}
	h.mu.Lock()
	failedAt := h.at
	h.mu.Unlock()
	if failedAt.IsZero() {
		failedAt = returned // failed before logging: returned at once
	}
	if d := returned.Sub(failedAt); d > 5*time.Second {
		t.Errorf("stopped %v after the failure, want ≤ 5 s", d)
	}
	if l, err := net.Listen("tcp", "127.0.0.1:4840"); err != nil {
		t.Errorf("the simulator still listens after the demo returned: %v", err)
	} else {
		l.Close()
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
