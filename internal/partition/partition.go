package partition

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/internal/clock"
)

// DefaultTTL is the lease TTL when Options.TTL is zero: a SIGKILLed
// worker's partitions are taken over within TTL + Renew (≈ 6.7 s).
const DefaultTTL = 5 * time.Second

// BucketConfig is the key-value bucket of a lease group: MaxAge is the
// lease TTL (the server expires a key not renewed within it), one value
// per key, file storage replicated like the streams. Each package that
// uses leases declares its own bucket with it (one owner per contract).
func BucketConfig(bucket string, ttl time.Duration, replicas int) jetstream.KeyValueConfig {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return jetstream.KeyValueConfig{Bucket: bucket, History: 1, TTL: ttl, Replicas: max(replicas, 1),
		Storage: jetstream.FileStorage, Description: "linewatch partition leases and worker membership (partition package)"}
}

// Options configure a Manager.
type Options struct {
	// KV is the lease bucket (BucketConfig), created beforehand.
	KV jetstream.KeyValue
	// Group prefixes every key, so groups can share a bucket.
	Group string
	// Worker names this worker uniquely among the group's workers
	// (one key token); default: a random name.
	Worker string
	// Partitions are the names shared (key tokens, e.g. line ids).
	Partitions []string
	// TTL must equal the bucket's MaxAge (default DefaultTTL); Renew is the
	// renewal interval (default TTL/3, at most TTL/2).
	TTL, Renew time.Duration
	// Run does the work of one held partition until ctx ends (lease lost,
	// released for a rebalance, or shutdown). It must return soon after
	// that; while it runs after a release or a shutdown the lease is still
	// renewed, so a final checkpoint fenced by l.Held succeeds.
	Run    func(ctx context.Context, l *Lease)
	Clock  clock.Clock
	Logger *slog.Logger
}

// Lease is one held partition, handed to Options.Run.
type Lease struct {
	Partition string
	// Epoch is the key's revision when this worker took the partition: a
	// later owner's epoch is always larger, so writes carrying it can be
	// fenced (see engine checkpoints).
	Epoch uint64

	m         *Manager
	mu        sync.Mutex
	rev       uint64        // last revision written by this worker
	renewed   time.Duration // monotonic time the last successful write was sent
	lost      bool
	releasing bool
	cancel    context.CancelFunc
	done      chan struct{} // closed when Run returned
}

// Held reports whether this worker still provably holds the lease: not
// lost, and renewed less than TTL − Renew ago on this worker's clock.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.lost && l.m.clk.Monotonic()-l.renewed < l.m.valid
}

// Manager takes, renews, balances and releases the leases of one worker.
type Manager struct {
	o     Options
	clk   clock.Clock
	log   *slog.Logger
	valid time.Duration // TTL − Renew: how long a renewal proves ownership

	mu      sync.Mutex
	held    map[string]*Lease // renewed by this worker (active or releasing)
	exiting map[string]*Lease // lost, Run not yet returned
}

var keyToken = regexp.MustCompile(`^[-_=a-zA-Z0-9]+$`)

// New checks o and fills its defaults.
func New(o Options) (*Manager, error) {
	if o.KV == nil || o.Run == nil {
		return nil, errors.New("partition: KV and Run are required")
	}
	if o.Worker == "" {
		o.Worker = rand.Text()
	}
	for _, s := range append([]string{o.Group, o.Worker}, o.Partitions...) {
		if !keyToken.MatchString(s) {
			return nil, fmt.Errorf("partition: %q is not a key token (letters, digits, - _ =)", s)
		}
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Renew <= 0 {
		o.Renew = o.TTL / 3
	}
	if o.Renew > o.TTL/2 {
		return nil, fmt.Errorf("partition: renew interval %s must be at most half the TTL %s", o.Renew, o.TTL)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Partitions = slices.Clone(o.Partitions)
	return &Manager{o: o, clk: o.Clock, log: o.Logger.With("group", o.Group, "worker", o.Worker), valid: o.TTL - o.Renew,
		held: map[string]*Lease{}, exiting: map[string]*Lease{}}, nil
}

// Worker is this worker's name.
func (m *Manager) Worker() string { return m.o.Worker }

// Held lists the partitions this worker works on now (not releasing), sorted.
func (m *Manager) Held() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for p, l := range m.held {
		l.mu.Lock()
		if !l.releasing {
			out = append(out, p)
		}
		l.mu.Unlock()
	}
	slices.Sort(out)
	return out
}

func (m *Manager) leaseKey(p string) string { return m.o.Group + ".lease." + p }
func (m *Manager) memberKey() string        { return m.o.Group + ".member." + m.o.Worker }

// Run takes and renews leases until ctx ends, then stops every partition's
// work, waits for it (at most TTL) and deletes the leases so that another
// worker takes over at once.
func (m *Manager) Run(ctx context.Context) error {
	defer m.shutdown(ctx)
	for {
		m.tick(ctx)
		if err := clock.Sleep(ctx, m.clk, m.o.Renew); err != nil {
			return nil
		}
	}
}

// tick renews, forgets finished work, balances and acquires, once.
func (m *Manager) tick(ctx context.Context) {
	now := m.clk.Monotonic()
	// Renewals first, each with its own time budget: on a loaded host
	// they must not wait behind the membership listing.
	m.renew(ctx, now)
	octx, cancel := context.WithTimeout(ctx, m.o.Renew)
	defer cancel()
	if _, err := m.o.KV.Put(octx, m.memberKey(), []byte(m.o.Worker)); err != nil && ctx.Err() == nil {
		m.log.Warn("partition: membership not renewed", "err", err)
	}
	m.reap(octx)
	n, err := m.members(octx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("partition: members not listed; no rebalance this round", "err", err)
		}
		return
	}
	share := (len(m.o.Partitions) + n - 1) / n
	m.balance(share)
	m.acquire(octx, now, share)
}

func (m *Manager) leases() []*Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Lease, 0, len(m.held))
	for _, l := range m.held {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *Lease) int { return cmp.Compare(a.Partition, b.Partition) })
	return out
}

// renew writes every held lease on its last revision.
func (m *Manager) renew(ctx context.Context, now time.Duration) {
	for _, l := range m.leases() {
		l.mu.Lock()
		rev := l.rev
		l.mu.Unlock()
		octx, cancel := context.WithTimeout(ctx, m.o.Renew)
		nrev, err := m.o.KV.Update(octx, m.leaseKey(l.Partition), []byte(m.o.Worker), rev)
		cancel()
		switch {
		case err == nil:
			l.mu.Lock()
			l.rev, l.renewed = nrev, now
			l.mu.Unlock()
		case ctx.Err() != nil:
			return // shutting down: keep the leases for the final checkpoints
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists):
			m.lose(l, "the lease was taken or expired: "+err.Error())
		case !l.Held():
			m.lose(l, "not renewed within the TTL: "+err.Error())
		default:
			m.log.Warn("partition: lease not renewed; retrying", "partition", l.Partition, "err", err)
		}
	}
}

// lose stops the work of a lease that is no longer provably held.
func (m *Manager) lose(l *Lease, why string) {
	m.log.Warn("partition: lease lost; work on it stops", "partition", l.Partition, "epoch", l.Epoch, "reason", why)
	l.mu.Lock()
	l.lost = true
	l.mu.Unlock()
	l.cancel()
	m.mu.Lock()
	delete(m.held, l.Partition)
	m.exiting[l.Partition] = l
	m.mu.Unlock()
}

// reap deletes the leases released for a rebalance whose work returned,
// and forgets lost ones whose work returned.
func (m *Manager) reap(octx context.Context) {
	for _, l := range m.leases() {
		l.mu.Lock()
		rel, rev := l.releasing, l.rev
		l.mu.Unlock()
		if !closed(l.done) {
			continue
		}
		if !rel {
			// The work returned by itself (an error it logged): free the
			// partition so that it is taken again, here or elsewhere.
			m.log.Warn("partition: work ended while the lease was held; releasing", "partition", l.Partition)
		}
		if err := m.o.KV.Delete(octx, m.leaseKey(l.Partition), jetstream.LastRevision(rev)); err != nil {
			m.log.Warn("partition: released lease not deleted; it expires", "partition", l.Partition, "err", err)
		}
		m.mu.Lock()
		delete(m.held, l.Partition)
		m.mu.Unlock()
		m.log.Info("partition: released", "partition", l.Partition)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, l := range m.exiting {
		if closed(l.done) {
			delete(m.exiting, p)
		}
	}
}

// members counts the group's live workers (at least this one).
func (m *Manager) members(octx context.Context) (int, error) {
	kl, err := m.o.KV.ListKeysFiltered(octx, m.o.Group+".member.*")
	if err != nil {
		return 0, err
	}
	defer kl.Stop()
	n, self := 0, false
	for k := range kl.Keys() {
		n++
		self = self || k == m.memberKey()
	}
	if !self {
		n++
	}
	return n, nil
}

// balance releases the least preferred partitions above share.
func (m *Manager) balance(share int) {
	var active []*Lease
	for _, l := range m.leases() {
		l.mu.Lock()
		if !l.releasing {
			active = append(active, l)
		}
		l.mu.Unlock()
	}
	if len(active) <= share {
		return
	}
	slices.SortFunc(active, func(a, b *Lease) int { return cmp.Compare(m.score(a.Partition), m.score(b.Partition)) })
	for _, l := range active[:len(active)-share] {
		m.log.Info("partition: releasing for a rebalance", "partition", l.Partition, "share", share)
		l.mu.Lock()
		l.releasing = true
		l.mu.Unlock()
		l.cancel()
	}
}

// acquire creates the leases of free partitions, most preferred first,
// up to share.
func (m *Manager) acquire(octx context.Context, now time.Duration, share int) {
	m.mu.Lock()
	n := len(m.held)
	var free []string
	for _, p := range m.o.Partitions {
		if m.held[p] == nil && m.exiting[p] == nil {
			free = append(free, p)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(free, func(a, b string) int { return cmp.Compare(m.score(b), m.score(a)) })
	for _, p := range free {
		if n >= share {
			return
		}
		rev, err := m.o.KV.Create(octx, m.leaseKey(p), []byte(m.o.Worker))
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			if octx.Err() == nil {
				m.log.Warn("partition: lease not taken", "partition", p, "err", err)
			}
			return
		}
		m.start(p, rev, now)
		n++
	}
}

func (m *Manager) start(p string, rev uint64, now time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lease{Partition: p, Epoch: rev, m: m, rev: rev, renewed: now, cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	m.held[p] = l
	m.mu.Unlock()
	m.log.Info("partition: taken", "partition", p, "epoch", rev)
	go func() {
		defer close(l.done)
		defer cancel()
		m.o.Run(ctx, l)
	}()
}

// shutdown stops all work, waits for it (at most TTL: past that the
// leases expire anyway) and deletes the leases and the membership.
func (m *Manager) shutdown(ctx context.Context) {
	ls := m.leases()
	m.mu.Lock()
	for _, l := range m.exiting {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	for _, l := range ls {
		l.cancel()
	}
	wait, stop := m.clk.After(m.o.TTL)
	defer stop()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.Renew)
	defer cancel()
	timedOut := false
	for _, l := range ls {
		if !timedOut {
			select {
			case <-l.done:
			case <-wait:
				timedOut = true
			}
		}
		l.mu.Lock()
		keep := !l.lost && closed(l.done)
		rev := l.rev
		l.mu.Unlock()
		if keep {
			if err := m.o.KV.Delete(dctx, m.leaseKey(l.Partition), jetstream.LastRevision(rev)); err != nil {
				m.log.Warn("partition: lease not deleted at shutdown; it expires", "partition", l.Partition, "err", err)
			}
		}
	}
	if err := m.o.KV.Delete(dctx, m.memberKey()); err != nil {
		m.log.Warn("partition: membership not deleted at shutdown; it expires", "err", err)
	}
}

// score ranks partition p for this worker (rendezvous hashing).
func (m *Manager) score(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(m.o.Worker))
	h.Write([]byte{0})
	h.Write([]byte(p))
	return h.Sum64()
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
