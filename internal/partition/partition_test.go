package partition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	testTTL   = 6 * time.Second
	testRenew = 2 * time.Second
)

// bucket starts a server and returns a lease bucket (its real MaxAge is
// long: these tests drive lease timing with a fake clock, and stand for
// the server's expiry by purging a key).
func bucket(t *testing.T) (*nats.Conn, jetstream.KeyValue) {
	t.Helper()
	s := testenv.NATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	kv, err := js.CreateKeyValue(context.Background(), BucketConfig("TEST_LEASES", time.Hour, 1))
	if err != nil {
		t.Fatal(err)
	}
	return nc, kv
}

// owners records which worker runs each partition, and any overlap.
type owners struct {
	mu      sync.Mutex
	by      map[string]string
	overlap []string
	epochs  map[string][]uint64
}

func newOwners() *owners { return &owners{by: map[string]string{}, epochs: map[string][]uint64{}} }

func (o *owners) run(worker string) func(ctx context.Context, l *Lease) {
	return func(ctx context.Context, l *Lease) {
		o.mu.Lock()
		if w, ok := o.by[l.Partition]; ok {
			o.overlap = append(o.overlap, fmt.Sprintf("%s held by %s and %s", l.Partition, w, worker))
		}
		o.by[l.Partition] = worker
		o.epochs[l.Partition] = append(o.epochs[l.Partition], l.Epoch)
		o.mu.Unlock()
		<-ctx.Done()
		o.mu.Lock()
		delete(o.by, l.Partition)
		o.mu.Unlock()
	}
}

func (o *owners) of(worker string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for p, w := range o.by {
		if w == worker {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

type worker struct {
	m      *Manager
	cancel context.CancelFunc
	done   chan struct{}
}

func startWorker(t *testing.T, kv jetstream.KeyValue, name string, fc clock.Clock, o *owners, parts []string) *worker {
	t.Helper()
	m, err := New(Options{KV: kv, Group: "g", Worker: name, Partitions: parts, TTL: testTTL, Renew: testRenew,
		Clock: fc, Run: o.run(name)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{m: m, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(w.done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

// step waits until n loops sleep on fc, then lets one renewal interval pass.
func step(t *testing.T, fc *clock.Fake, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fc.WaitWaiters(ctx, n); err != nil {
		t.Fatalf("waiting for %d lease loops: %v", n, err)
	}
	fc.Advance(testRenew)
}

// settle steps until cond holds (each step is one renewal round).
func settle(t *testing.T, fc *clock.Fake, n int, what string, cond func() bool) {
	t.Helper()
	for range 10 {
		step(t, fc, n)
		if err := fcWait(fc, n); err != nil {
			t.Fatal(err)
		}
		if cond() {
			return
		}
	}
	t.Fatalf("not reached after 10 renewal rounds: %s", what)
}

func fcWait(fc *clock.Fake, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return fc.WaitWaiters(ctx, n)
}

var lines = []string{"l1", "l2", "l3", "l4"}

func TestLeasesSplitAndRebalanceIntegration(t *testing.T) {
	_, kv := bucket(t)
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := newOwners()
	a := startWorker(t, kv, "a", fc, o, lines)
	if err := fcWait(fc, 1); err != nil {
		t.Fatal(err)
	}
	if got := a.m.Held(); !slices.Equal(got, lines) {
		t.Fatalf("a alone holds %v, want all %v", got, lines)
	}
	waitFor(t, 5*time.Second, "a works on all", func() bool { return len(o.of("a")) == 4 })
	b := startWorker(t, kv, "b", fc, o, lines)
	settle(t, fc, 2, "two partitions each", func() bool { return len(a.m.Held()) == 2 && len(b.m.Held()) == 2 })
	waitFor(t, 5*time.Second, "each works on its two", func() bool {
		return slices.Equal(a.m.Held(), o.of("a")) && slices.Equal(b.m.Held(), o.of("b"))
	})
	if got := append(o.of("a"), o.of("b")...); len(got) != 4 {
		t.Errorf("held together: %v", got)
	}
	// A clean stop of b deletes its leases and membership: a takes them
	// all back at its next round.
	b.cancel()
	<-b.done
	settle(t, fc, 1, "a holds all again", func() bool { return len(a.m.Held()) == 4 })
	waitFor(t, 5*time.Second, "a works on all again", func() bool { return len(o.of("a")) == 4 })
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.overlap) > 0 {
		t.Errorf("a partition was worked on by two workers at once: %v", o.overlap)
	}
	for p, es := range o.epochs {
		if !slices.IsSorted(es) || len(slices.Compact(slices.Clone(es))) != len(es) {
			t.Errorf("epochs of %s not increasing: %v", p, es)
		}
	}
}

// failingKV refuses lease renewals as a partitioned network would.
type failingKV struct {
	jetstream.KeyValue
	mu   sync.Mutex
	fail bool
}

var errNet = errors.New("nats: timeout")

func (f *failingKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return 0, errNet
	}
	return f.KeyValue.Update(ctx, key, value, rev)
}

func TestLeaseLostWhenNotRenewedWithinTTLIntegration(t *testing.T) {
	_, kv := bucket(t)
	fkv := &failingKV{KeyValue: kv}
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	leases := make(chan *Lease, 1)
	stopped := make(chan time.Duration, 1)
	m, err := New(Options{KV: fkv, Group: "g", Worker: "a", Partitions: []string{"l1"}, TTL: testTTL, Renew: testRenew, Clock: fc,
		Run: func(ctx context.Context, l *Lease) {
			leases <- l
			<-ctx.Done()
			stopped <- fc.Monotonic()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	l := <-leases
	start := fc.Monotonic()
	step(t, fc, 1) // renewed at +2 s
	if err := fcWait(fc, 1); err != nil {
		t.Fatal(err)
	}
	fkv.mu.Lock()
	fkv.fail = true
	fkv.mu.Unlock()
	step(t, fc, 1) // +4 s: renewal fails, 2 s since the last: still held
	if err := fcWait(fc, 1); err != nil {
		t.Fatal(err)
	}
	if !l.Held() {
		t.Fatal("lease not held 2 s after its last renewal (TTL 6 s, renew 2 s)")
	}
	step(t, fc, 1) // +6 s: 4 s since the last renewal = TTL − renew: lost
	select {
	case at := <-stopped:
		if d := at - start; d != 6*time.Second {
			t.Errorf("work stopped %s after the lease was taken, want 6 s (last renewal at 2 s + TTL 6 s − renew 2 s)", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("work on a lease not renewed for TTL − renew did not stop")
	}
	if l.Held() {
		t.Error("Held true after the lease was lost")
	}
}

func TestLeaseLostAtOnceWhenTakenIntegration(t *testing.T) {
	_, kv := bucket(t)
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := newOwners()
	a := startWorker(t, kv, "a", fc, o, []string{"l1"})
	if err := fcWait(fc, 1); err != nil {
		t.Fatal(err)
	}
	// Stand for the server's expiry and another worker's Create.
	ctx := context.Background()
	if err := kv.Purge(ctx, "g.lease.l1"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "g.lease.l1", []byte("b")); err != nil {
		t.Fatal(err)
	}
	step(t, fc, 1)
	if err := fcWait(fc, 1); err != nil {
		t.Fatal(err)
	}
	if got := a.m.Held(); len(got) != 0 {
		t.Errorf("a.Held = %v after its renewal was refused", got)
	}
	waitFor(t, 5*time.Second, "a stops working on l1", func() bool { return len(o.of("a")) == 0 })
}

// A worker that dies without releasing (its connection gone) loses its
// partitions to the survivor once the server expires the lease: takeover
// within TTL + renew on the real clock and the server's MaxAge.
func TestTakeoverAfterKillIntegration(t *testing.T) {
	s := testenv.NATS(t)
	conn := func() (*nats.Conn, jetstream.KeyValue) {
		nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		kv, err := js.CreateOrUpdateKeyValue(context.Background(), BucketConfig("TEST_LEASES", time.Second, 1))
		if err != nil {
			t.Fatal(err)
		}
		return nc, kv
	}
	ncA, kvA := conn()
	_, kvB := conn()
	o := newOwners()
	start := func(kv jetstream.KeyValue, name string) (*Manager, context.CancelFunc, chan struct{}) {
		m, err := New(Options{KV: kv, Group: "g", Worker: name, Partitions: lines, TTL: time.Second, Renew: 300 * time.Millisecond, Run: o.run(name)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); m.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return m, cancel, done
	}
	_, _, _ = start(kvA, "a")
	waitFor(t, 5*time.Second, "a holds all", func() bool { return len(o.of("a")) == 4 })
	_, _, _ = start(kvB, "b")
	waitFor(t, 5*time.Second, "two each", func() bool { return len(o.of("a")) == 2 && len(o.of("b")) == 2 })
	// Kill a: its connection goes, nothing is released.
	ncA.Close()
	killed := time.Now()
	waitFor(t, 10*time.Second, "b holds all", func() bool { return len(o.of("b")) == 4 })
	if d := time.Since(killed); d > time.Second+2*300*time.Millisecond+500*time.Millisecond {
		t.Errorf("takeover took %s, want ≤ TTL 1 s + renew 0.3 s (+ one round and scheduling)", d)
	} else {
		t.Logf("takeover after %s (TTL 1 s, renew 0.3 s)", d.Round(time.Millisecond))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.overlap) > 0 {
		t.Errorf("a partition was worked on by two workers at once: %v", o.overlap)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
