package collector

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopcua/opcua"

	"github.com/linewatch/linewatch/collector/pki"
	"github.com/linewatch/linewatch/collector/uaclient"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/simulator"
)

func TestBasic256Sha256SignAndEncryptWithUsername(t *testing.T) {
	t.Setenv("LINEWATCH_TEST_OPCUA_PASSWORD", "s3cret-line")
	sim := startSim(t, simulator.Options{Users: map[string]string{"operator": "s3cret-line"}})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{Policy: "Basic256Sha256", Mode: "SignAndEncrypt", Auth: "username"})
	trustServer(t, cfg, sim)
	rec := newRecorder()
	runCollector(t, cfg, Options{Output: rec})
	rec.waitFor(t, "good fill_weight over the encrypted session", func(r *recorder) bool {
		s, ok := r.last("filler", "fill_weight", 0)
		return ok && s.Good() && s.Value > 1
	})
	// The application instance certificate was created once, with our URI in the SAN.
	der, err := pki.LoadCertificate(pki.Open(cfg.Collector.PKIDir).OwnCertFile())
	if err != nil {
		t.Fatalf("own certificate not persisted: %v", err)
	}
	if c, _ := pki.LoadCertificate(pki.Open(cfg.Collector.PKIDir).OwnCertFile()); string(c) != string(der) {
		t.Fatal("own certificate changed")
	}
}

func TestUntrustedServerCertificateIsRefused(t *testing.T) {
	t.Setenv("LINEWATCH_TEST_OPCUA_PASSWORD", "pw")
	sim := startSim(t, simulator.Options{Users: map[string]string{"operator": "pw"}})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{Policy: "Basic256Sha256", Mode: "SignAndEncrypt", Auth: "username"})
	rec := newRecorder()
	runCollector(t, cfg, Options{Output: rec})
	tp := pki.Thumbprint(sim.ServerCertificate())
	rec.waitFor(t, "a disconnected status naming the thumbprint", func(r *recorder) bool {
		for _, s := range r.status {
			if !s.Connected && strings.Contains(s.Reason, tp) {
				return true
			}
		}
		return false
	})
	rec.mu.Lock()
	reason := rec.status[0].Reason
	n := len(rec.samples)
	rec.mu.Unlock()
	if !strings.Contains(reason, "linewatch pki trust --thumbprint "+tp) {
		t.Errorf("reason %q does not say how to trust the certificate", reason)
	}
	if n != 0 {
		t.Errorf("%d samples read from an untrusted server", n)
	}
	if _, err := os.Stat(filepath.Join(cfg.Collector.PKIDir, "rejected", tp+".der")); err != nil {
		t.Errorf("rejected certificate not saved for `linewatch pki trust`: %v", err)
	}
}

// TestWrongPasswordBacksOff counts session attempts over 60 s of injected
// time: with reconnect_min 1s and reconnect_max 8s the backoff allows at most
// about a dozen, where a retry storm would make hundreds.
func TestWrongPasswordBacksOff(t *testing.T) {
	t.Setenv("LINEWATCH_TEST_OPCUA_PASSWORD", "wrong")
	sim := startSim(t, simulator.Options{Users: map[string]string{"operator": "right"}})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{Policy: "Basic256Sha256", Mode: "SignAndEncrypt", Auth: "username"})
	cfg.Collector.ReconnectMin, cfg.Collector.ReconnectMax = time.Second, 8*time.Second
	// The comm-loss alarm timer runs on the same clock; keep it beyond
	// the minute this test steps through the backoff timers.
	cfg.Collector.CommLossAlarmDelay = time.Hour
	trustServer(t, cfg, sim)
	clk := clock.NewFake(time.Now())
	var attempts atomic.Int64
	var lastErr atomic.Value
	done := make(chan struct{}, 100)
	dial := func(ctx context.Context, c uaclient.Config, f func(opcua.ConnState)) (*opcua.Client, uaclient.Limits, error) {
		cl, lim, err := uaclient.Dial(ctx, c, f)
		attempts.Add(1)
		if err != nil {
			lastErr.Store(err)
		}
		done <- struct{}{}
		return cl, lim, err
	}
	rec := newRecorder()
	runCollector(t, cfg, Options{Output: rec, Clock: clk, dial: dial})

	// The backoff timer is armed when a timer is due within reconnect_max:
	// the comm-loss timer (an hour away) is a waiter too, so counting
	// waiters would let the loop run ahead of a collector slow to arm.
	armed := func() bool {
		next, ok := clk.NextAt()
		return ok && next.Sub(clk.Now()) <= cfg.Collector.ReconnectMax
	}
	waitArmed := func() {
		t.Helper()
		timeout := time.After(deadline)
		for !armed() {
			select {
			case <-clk.Changed():
			case <-timeout:
				t.Fatal("collector never armed its backoff timer")
			}
		}
	}
	<-done
	waitArmed()
	start := clk.Now()
	for clk.Now().Sub(start) < time.Minute {
		next, _ := clk.NextAt()
		due := next.Sub(clk.Now())
		step := 250 * time.Millisecond
		before := attempts.Load()
		clk.Advance(step)
		if due <= step {
			select {
			case <-done:
			case <-time.After(deadline):
				t.Fatalf("no session attempt after the backoff timer fired (attempts %d)", before)
			}
			waitArmed()
		}
	}
	n := attempts.Load()
	t.Logf("%d session attempts in 60 s of injected time", n)
	if n < 4 || n > 20 { // jitter in [d/2, d): at most ~18; a storm would be hundreds
		t.Errorf("%d session attempts in 60 s with backoff 1s..8s; want 4..20", n)
	}
	err, _ := lastErr.Load().(error)
	if err == nil || !strings.Contains(err.Error(), `refused user "operator"`) || !strings.Contains(err.Error(), "password") {
		t.Errorf("error %v: want a clear 'refused user' message", err)
	}
	var ue *pki.UntrustedError
	if errors.As(err, &ue) {
		t.Errorf("wrong password reported as certificate problem: %v", err)
	}
}

// TestPasswordOnNoneChannelNeedsTrustedServer: on a None channel the password
// is encrypted with the server certificate, so that certificate must be
// trusted before the password is sent.
func TestPasswordOnNoneChannelNeedsTrustedServer(t *testing.T) {
	t.Setenv("LINEWATCH_TEST_OPCUA_PASSWORD", "pw")
	sim := startSim(t, simulator.Options{Users: map[string]string{"operator": "pw"}})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{Auth: "username"})
	rec := newRecorder()
	runCollector(t, cfg, Options{Output: rec})
	tp := pki.Thumbprint(sim.ServerCertificate())
	rec.waitFor(t, "refusal naming the thumbprint", func(r *recorder) bool {
		return len(r.status) > 0 && !r.status[0].Connected && strings.Contains(r.status[0].Reason, tp)
	})
	if _, err := pki.Open(cfg.Collector.PKIDir).Trust(tp, ""); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "values once the certificate is trusted, without a restart", func(r *recorder) bool {
		s, ok := r.last("filler", "fill_weight", 0)
		return ok && s.Good()
	})
}
