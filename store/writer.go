package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
)

// WriterOptions are the collaborators of a Writer.
type WriterOptions struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock drives flush intervals, backoff and the drain deadline; tests
	// inject one so they need not sleep. Defaults to the system clock.
	Clock Clock
	// Metrics registers the writer's Prometheus metrics; nil: not registered.
	Metrics prometheus.Registerer
	// DrainTimeout bounds how long Run keeps sending after its context is
	// cancelled; what is not sent by then goes to the spool. Default 5 s.
	DrainTimeout time.Duration
	// BackoffMin and BackoffMax bound the retry delay (defaults 200 ms, 30 s).
	BackoffMin, BackoffMax time.Duration
	// OverflowBytes bounds the sealed batches (uncompressed line protocol)
	// held in memory while Run is behind, e.g. on a slow or stuck spool
	// disk. WriteSamples never waits: past this bound the spool's full
	// policy (influxdb.spool.full_policy) drops data. Default 64 MiB.
	OverflowBytes int64
	// Health receives the writer's system conditions: InfluxDB unreachable
	// or refusing writes (with its reason), spool in use, spool above 80 %.
	// It must not block (health.Registry.Report).
	Health func(health.Condition)
}

// DefaultOverflowBytes is the default of WriterOptions.OverflowBytes.
const DefaultOverflowBytes = 64 << 20

// overflowLogEvery rate-limits the data-loss log line of the overflow queue.
const overflowLogEvery = 10 * time.Second

// ErrWriterStopped is returned by Flush once Run has returned.
var ErrWriterStopped = errors.New("store: writer stopped")

// batch is a sealed chunk of line protocol on its way to InfluxDB.
type batch struct {
	body     []byte
	gz       bool
	lines    int
	attempts int
	spooled  bool   // a copy is in the spool: acknowledge it when done
	seg      uint64 // disk spool segment holding the copy
	dropped  bool   // memory spool: evicted while in flight
	acked    bool
}

// Writer encodes samples and points into line-protocol batches and sends
// them to InfluxDB with parallel writers, retrying with backoff and
// spooling to disk while InfluxDB is unreachable. Create it with
// NewWriter, start Run, then call WriteSamples / WritePoint from any
// goroutine.
type Writer struct {
	log          *slog.Logger
	clock        Clock
	m            *metrics
	ep           *endpoint
	sp           spool
	batchSize    int
	flushEvery   time.Duration
	timeout      time.Duration
	writers      int
	gzip         bool
	drainTimeout time.Duration
	backoffMin   time.Duration
	backoffMax   time.Duration
	spoolMax     int64
	health       writerHealth

	mu      sync.Mutex
	lb      lineBuilder
	lines   int
	encErrs int

	// Hand-off to Run. enqueue never blocks: a batch goes to sealed when
	// it has room and overflow is empty, else behind it in overflow, so
	// the order is kept; Run takes overflow only after emptying sealed.
	sealed      chan *batch
	ovReady     chan struct{} // a token when overflow has batches
	ovMu        sync.Mutex
	overflow    []*batch // oldest first, all newer than what is in sealed
	ovBytes     int64
	ovMax       int64
	ovDropOld   bool
	ovStopped   bool      // Run took its last batches: later writes are lost
	ovLostLines int       // dropped since the last log line
	ovLoggedAt  time.Time // last data-loss log line
	flushReq    chan chan struct{}
	done        chan struct{}
	started     atomic.Bool

	// test hooks, set before Run
	onResult   func(result)
	onSpooled  func(*batch)
	crashCause error // Run cancelled with this cause stops without draining
}

// NewWriter checks cfg, resolves the token, opens the spool (replaying
// what a previous run left happens in Run) and returns an idle Writer.
func NewWriter(cfg config.InfluxDB, opts WriterOptions) (*Writer, error) {
	w := &Writer{
		log: opts.Logger, clock: opts.Clock,
		batchSize: cfg.BatchSize, flushEvery: cfg.FlushInterval, timeout: cfg.Timeout, writers: cfg.Writers,
		gzip: cfg.Gzip == nil || *cfg.Gzip, drainTimeout: opts.DrainTimeout,
		backoffMin: opts.BackoffMin, backoffMax: opts.BackoffMax, ovMax: opts.OverflowBytes,
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("component", "store")
	if w.clock == nil {
		w.clock = realClock{}
	}
	setDefault(&w.batchSize, config.DefaultBatchSize)
	setDefault(&w.flushEvery, config.DefaultFlushInterval)
	setDefault(&w.timeout, config.DefaultInfluxTimeout)
	setDefault(&w.writers, config.DefaultWriters)
	setDefault(&w.drainTimeout, 5*time.Second)
	setDefault(&w.backoffMin, 200*time.Millisecond)
	setDefault(&w.backoffMax, 30*time.Second)
	if w.ovMax <= 0 {
		w.ovMax = DefaultOverflowBytes
	}
	w.backoffMax = max(w.backoffMax, w.backoffMin)
	m, err := newMetricsReg(opts.Metrics)
	if err != nil {
		return nil, err
	}
	w.m = m
	if w.ep, err = newEndpoint(cfg, w.writers); err != nil {
		return nil, err
	}
	maxBytes := cfg.Spool.MaxSizeMB << 20
	if maxBytes <= 0 {
		maxBytes = config.DefaultSpoolMaxSizeMB << 20
	}
	w.spoolMax, w.health.report = maxBytes, opts.Health
	dropOldest := cfg.Spool.FullPolicy != "drop_newest"
	w.ovDropOld = dropOldest
	if cfg.Spool.Dir != "" {
		if w.sp, err = openDiskSpool(cfg.Spool.Dir, maxBytes, dropOldest, w.log, w.m); err != nil {
			return nil, err
		}
	} else {
		w.log.Warn("influxdb.spool.dir is empty: batches wait in memory while InfluxDB is down and are lost on a crash")
		w.sp = &memSpool{maxBytes: maxBytes, dropOldest: dropOldest, log: w.log, m: w.m}
	}
	// Room for bursts while the router is busy spooling (fsync per batch)
	// during an outage; beyond it batches wait in the overflow queue.
	w.sealed = make(chan *batch, 256)
	w.ovReady = make(chan struct{}, 1)
	w.flushReq = make(chan chan struct{})
	w.done = make(chan struct{})
	w.lb.buf = getBuf()
	return w, nil
}

func newMetricsReg(reg prometheus.Registerer) (m *metrics, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store metrics: %v (one Writer per registry)", r)
		}
	}()
	return newMetrics(reg), nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// WriteSamples encodes samples into the current batch. It never waits,
// neither for the network nor for Run: full batches are handed to Run,
// which sends or spools them; while Run is behind they wait in a memory
// queue bounded by WriterOptions.OverflowBytes, past which the spool's
// full policy drops data (logged and counted). Samples that have no
// line-protocol form (empty or invalid tag values) are counted and logged.
func (w *Writer) WriteSamples(ss []sample.Sample) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(ss) > 0 {
		w.lb.startRun(&ss[0])
		defer w.lb.endRun()
	}
	for i := range ss {
		if err := w.lb.sample(&ss[i], now); err != nil {
			w.encodeErrorLocked(err, ss[i].Key())
			continue
		}
		w.lines++
		if w.lines >= w.batchSize {
			// Under mu, so batches are queued in the order they were sealed.
			w.enqueue(w.sealLocked())
		}
	}
}

// WritePoint encodes one point of another measurement (alarms, batches,
// spc, collector_status) into the current batch.
func (w *Writer) WritePoint(p Point) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.lb.point(&p, now); err != nil {
		w.encodeErrorLocked(err, p.Measurement)
		return
	}
	w.lines++
	if w.lines >= w.batchSize {
		w.enqueue(w.sealLocked())
	}
}

func (w *Writer) encodeErrorLocked(err error, what string) {
	w.encErrs++
	w.m.writeErrors.WithLabelValues(errKindEncode).Inc()
	w.m.rejectedLines.Inc()
	if bits.OnesCount(uint(w.encErrs)) == 1 { // 1st, 2nd, 4th, 8th…: loud but bounded
		w.log.Error("store: value cannot be encoded as line protocol; dropped", "what", what, "err", err, "count", w.encErrs)
	}
}

func (w *Writer) sealLocked() *batch {
	b := &batch{body: w.lb.buf, lines: w.lines}
	w.lb.buf = getBuf()
	w.lines = 0
	return b
}

// sealCurrentQueued seals the open batch, if any, behind the batches
// already queued, so a flush keeps the order of writes.
func (w *Writer) sealCurrentQueued() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lines > 0 {
		w.enqueue(w.sealLocked())
	}
}

// enqueue hands b to Run without ever blocking: into sealed while it has
// room and nothing waits in overflow, else at the end of overflow. Past
// the overflow bound the spool's full policy applies.
func (w *Writer) enqueue(b *batch) {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	if w.ovStopped {
		w.dropLocked(b.lines, "write after the writer stopped")
		putBuf(b.body)
		return
	}
	if len(w.overflow) == 0 {
		select {
		case w.sealed <- b:
			return
		default:
		}
	}
	size := int64(len(b.body))
	for w.ovBytes+size > w.ovMax {
		if !w.ovDropOld || len(w.overflow) == 0 {
			w.dropLocked(b.lines, w.fullReason())
			putBuf(b.body)
			return
		}
		old := w.overflow[0]
		w.overflow[0] = nil
		w.overflow = w.overflow[1:]
		w.ovBytes -= int64(len(old.body))
		w.dropLocked(old.lines, w.fullReason())
		putBuf(old.body)
	}
	w.overflow = append(w.overflow, b)
	w.ovBytes += size
	w.signalOverflowLocked()
}

func (w *Writer) fullReason() string {
	if w.ovDropOld {
		return "writer behind (slow or stuck spool disk?) and its memory queue full, policy drop_oldest"
	}
	return "writer behind (slow or stuck spool disk?) and its memory queue full, policy drop_newest"
}

// dropLocked counts lost lines and logs them loudly, at most once per
// overflowLogEvery with the lines lost since the last line: a stuck disk
// drops a batch per poll and must not flood the log as well.
func (w *Writer) dropLocked(lines int, reason string) {
	w.m.spoolDropped.Add(float64(lines))
	w.ovLostLines += lines
	now := w.clock.Now()
	if !w.ovLoggedAt.IsZero() && now.Sub(w.ovLoggedAt) < overflowLogEvery {
		return
	}
	w.log.Error("store: DATA LOST: lines dropped", "lines", w.ovLostLines, "reason", reason, "max_bytes", w.ovMax, "log_every", overflowLogEvery)
	w.ovLoggedAt = now
	w.ovLostLines = 0
}

// takeNext returns the oldest batch waiting for Run, nil when none:
// sealed first, then overflow. Run takes one batch per turn of its loop,
// as from the channel, so it keeps answering send results, Flush and
// cancellation while it spools a backlog (an fsync each during an outage).
func (w *Writer) takeNext() *batch {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	select {
	case b := <-w.sealed:
		w.signalOverflowLocked()
		return b
	default:
	}
	if len(w.overflow) == 0 {
		return nil
	}
	b := w.overflow[0]
	w.overflow[0] = nil
	w.overflow = w.overflow[1:]
	w.ovBytes -= int64(len(b.body))
	if len(w.overflow) == 0 {
		w.overflow = nil // let the backing array go
	}
	w.signalOverflowLocked()
	return b
}

// signalOverflowLocked leaves a token for Run while overflow holds batches.
func (w *Writer) signalOverflowLocked() {
	if len(w.overflow) == 0 {
		return
	}
	select {
	case w.ovReady <- struct{}{}:
	default: // a token is already there
	}
}

// takeAll returns every batch waiting for Run, oldest first. stop marks
// the writer stopped, so later batches are counted as lost instead of
// waiting in a queue nobody reads.
func (w *Writer) takeAll(stop bool) []*batch {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	var out []*batch
	for {
		select {
		case b := <-w.sealed:
			out = append(out, b)
			continue
		default:
		}
		break
	}
	out = append(out, w.overflow...)
	w.overflow = nil
	w.ovBytes = 0
	if stop {
		w.ovStopped = true
		if w.ovLostLines > 0 { // not yet in a log line
			w.log.Error("store: DATA LOST: lines dropped since the last report", "lines", w.ovLostLines, "reason", w.fullReason())
			w.ovLostLines = 0
		}
	}
	return out
}

// queuedForRun reports whether batches wait in sealed or overflow.
func (w *Writer) queuedForRun() bool {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	return len(w.sealed) > 0 || len(w.overflow) > 0
}

// Flush sends the current batch and waits until nothing is queued, in
// flight or spooled, or ctx ends. While InfluxDB is down it waits.
func (w *Writer) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	select {
	case w.flushReq <- ch:
	case <-ctx.Done():
		return fmt.Errorf("store flush: %w", ctx.Err())
	case <-w.done:
		return ErrWriterStopped
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store flush: %w (is InfluxDB reachable? batches stay spooled)", ctx.Err())
	case <-w.done:
		return ErrWriterStopped
	}
}

// lineBufs recycles uncompressed batch buffers. It is a small bounded
// free list rather than a sync.Pool: a sync.Pool is emptied by every GC,
// and at a few thousand tags per second the GC runs about once a second,
// so each cycle re-grew the buffers from zero — garbage that brought the
// next GC sooner. At most freeListLen buffers (one batch each) stay
// allocated while idle. Compressed bodies are not recycled.
var lineBufs = make(chan []byte, freeListLen)

const freeListLen = 4

func getBuf() []byte {
	select {
	case b := <-lineBufs:
		return b[:0]
	default:
		return nil
	}
}

func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > 64<<20 {
		return
	}
	select {
	case lineBufs <- b[:0]:
	default: // full: let the GC have it
	}
}
