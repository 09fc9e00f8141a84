package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/unencodable"
	"github.com/linewatch/linewatch/sample"
)

// WriterOptions are the collaborators of a Writer.
type WriterOptions struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock drives flush intervals, backoff and the drain deadline; tests
	// inject one so they need not sleep. Defaults to the system clock.
	Clock clock.Clock
	// Metrics registers the writer's Prometheus metrics; nil: not registered.
	Metrics prometheus.Registerer
	// DrainTimeout bounds how long Run keeps sending after its context is
	// cancelled; what is not sent by then goes to the spool. Default 5 s.
	DrainTimeout time.Duration
	// BackoffMin and BackoffMax bound the retry delay (defaults 200 ms, 30 s).
	BackoffMin, BackoffMax time.Duration
	// OverflowBytes, when set, overrides influxdb.memory_limit_mb (tests).
	OverflowBytes int64
	// Health receives the writer's system conditions: InfluxDB unreachable
	// or refusing writes (with its reason), spool in use, spool above 80 %.
	// It must not block (health.Registry.Report).
	Health func(health.Condition)
}

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
	jgen     uint64 // its journal file (journal.done); 0 when none
}

// Writer encodes samples and points into line-protocol batches and sends
// them to InfluxDB with parallel writers, retrying with backoff and
// spooling to disk while InfluxDB is unreachable. Create it with
// NewWriter, start Run, then call WriteSamples / WritePoint from any
// goroutine.
type Writer struct {
	log          *slog.Logger
	clock        clock.Clock
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

	mu        sync.Mutex
	lb        lineBuilder
	lines     int
	encErrs   int
	rangeErrs int // samples restamped: source time outside InfluxDB's range

	// Hand-off to Run, and the memory backlog. enqueue never blocks: a
	// batch goes to sealed when it has room and overflow is empty, else
	// behind it in overflow, so the order is kept; Run takes overflow only
	// after emptying sealed. While the spool disk refuses writes Run puts
	// the batches it cannot spool back at the front of overflow (unshift).
	// sealed and overflow together are bounded by memMax bytes.
	sealed    chan *batch
	ovReady   chan struct{} // a token when overflow has batches
	ovMu      sync.Mutex
	overflow  []*batch // oldest first, all newer than what is in sealed
	memBytes  int64    // bytes in sealed and overflow
	memLines  int
	memPeak   int64
	memMax    int64
	dropOld   bool
	memFull   string // log detail of a memory_full drop
	ovStopped bool   // Run took its last batches: later writes are lost
	loss      *lossLog
	flushReq  chan chan struct{}
	done      chan struct{}
	started   atomic.Bool

	// Close: closing is cancelled to stop Run; closed (under mu) turns
	// later writes into counted losses.
	closing   context.Context
	stopRun   context.CancelFunc
	closeOnce sync.Once
	closed    bool

	jr *journal // nil without a disk spool; written under mu

	stMu     sync.Mutex
	spoolErr error // the spool disk refused the last write; nil when it works

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
		backoffMin: opts.BackoffMin, backoffMax: opts.BackoffMax, memMax: opts.OverflowBytes,
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("component", "store")
	if w.clock == nil {
		w.clock = clock.Real{}
	}
	setDefault(&w.batchSize, config.DefaultBatchSize)
	setDefault(&w.flushEvery, config.DefaultFlushInterval)
	setDefault(&w.timeout, config.DefaultInfluxTimeout)
	setDefault(&w.writers, config.DefaultWriters)
	setDefault(&w.drainTimeout, 5*time.Second)
	setDefault(&w.backoffMin, 200*time.Millisecond)
	setDefault(&w.backoffMax, 30*time.Second)
	if w.memMax <= 0 {
		w.memMax = cfg.MemoryLimitMB << 20
	}
	if w.memMax <= 0 {
		w.memMax = config.DefaultMemoryLimitMB << 20
	}
	w.backoffMax = max(w.backoffMax, w.backoffMin)
	m, err := newMetricsReg(opts.Metrics)
	if err != nil {
		return nil, err
	}
	w.m = m
	w.loss = newLossLog(w.log, w.clock.Now, m.linesLost)
	if w.ep, err = newEndpoint(cfg, w.writers); err != nil {
		return nil, err
	}
	maxBytes := cfg.Spool.MaxSizeMB << 20
	if maxBytes <= 0 {
		maxBytes = config.DefaultSpoolMaxSizeMB << 20
	}
	w.spoolMax, w.health.report = maxBytes, opts.Health
	dropOldest := cfg.Spool.FullPolicy != "drop_newest"
	w.dropOld = dropOldest
	w.memFull = memFullReason(w.memMax, dropOldest)
	if cfg.Spool.Dir != "" {
		ds, err := openDiskSpool(cfg.Spool.Dir, maxBytes, dropOldest, w.log, w.m, w.loss)
		if err != nil {
			return nil, err
		}
		if w.jr, err = openJournal(cfg.Spool.Dir, ds, w.log); err != nil {
			ds.Close()
			return nil, err
		}
		w.sp = ds
	} else {
		w.log.Warn("influxdb.spool.dir is empty: batches wait in memory while InfluxDB is down and are lost on a crash")
		w.sp = &memSpool{maxBytes: maxBytes, dropOldest: dropOldest, m: w.m, loss: w.loss}
	}
	// Room for bursts while the router is busy spooling (fsync per batch)
	// during an outage; beyond it batches wait in the overflow queue.
	w.sealed = make(chan *batch, 256)
	w.ovReady = make(chan struct{}, 1)
	w.flushReq = make(chan chan struct{})
	w.done = make(chan struct{})
	w.closing, w.stopRun = context.WithCancel(context.Background())
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
// which sends or spools them; while Run is behind, or neither InfluxDB
// nor the spool disk takes them, they wait in memory bounded by
// influxdb.memory_limit_mb, past which influxdb.spool.full_policy drops
// data (counted, and logged at most once per 10 s). Samples that have no
// line-protocol form (empty or invalid tag values) are counted and logged.
func (w *Writer) WriteSamples(ss []sample.Sample) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.loss.lost(len(ss), lostStopped, "written after the writer was closed")
		return
	}
	if len(ss) > 0 {
		w.lb.startRun(&ss[0])
		defer w.lb.endRun()
	}
	// The new lines go to the journal before this returns.
	from, fromLines := len(w.lb.buf), w.lines
	defer func() { w.jr.write(w.lb.buf[from:], w.lines-fromLines) }()
	for i := range ss {
		s := &ss[i]
		if t := s.Time; !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
			// InfluxDB holds 1677–2262 only: keep the value, at the write time.
			w.m.unencodable.WithLabelValues(unencodable.SinkInfluxDB, reasonTimeRange).Inc()
			if w.rangeErrs++; bits.OnesCount(uint(w.rangeErrs)) == 1 {
				w.log.Warn("store: source timestamp outside InfluxDB's range; value stored at the write time", "what", s.Key(), "time", t.Format(time.RFC3339Nano), "count", w.rangeErrs)
			}
			cp := *s
			cp.Time = now
			s = &cp
		}
		if err := w.lb.sample(s, now); err != nil {
			w.encodeErrorLocked(err, s.Key())
			continue
		}
		w.lines++
		if w.lines >= w.batchSize {
			w.jr.write(w.lb.buf[from:], w.lines-fromLines)
			from, fromLines = 0, 0
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
	if w.closed {
		w.loss.lost(1, lostStopped, "written after the writer was closed")
		return
	}
	from := len(w.lb.buf)
	if err := w.lb.point(&p, now); err != nil {
		w.encodeErrorLocked(err, p.Measurement)
		return
	}
	w.jr.write(w.lb.buf[from:], 1)
	w.lines++
	if w.lines >= w.batchSize {
		w.enqueue(w.sealLocked())
	}
}

func (w *Writer) encodeErrorLocked(err error, what string) {
	w.encErrs++
	w.m.writeErrors.WithLabelValues(errKindEncode).Inc()
	w.m.unencodable.WithLabelValues(unencodable.SinkInfluxDB, reasonOther).Inc()
	w.m.rejectedLines.Inc()
	if bits.OnesCount(uint(w.encErrs)) == 1 { // 1st, 2nd, 4th, 8th…: loud but bounded
		w.log.Error("store: value cannot be encoded as line protocol; dropped", "what", what, "err", err, "count", w.encErrs)
	}
}

func (w *Writer) sealLocked() *batch {
	b := &batch{body: w.lb.buf, lines: w.lines, jgen: w.jr.seal()}
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
// the memory bound the full policy applies.
func (w *Writer) enqueue(b *batch) {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	if w.ovStopped {
		w.loss.lost(b.lines, lostStopped, "written after the writer stopped")
		w.jr.done(b)
		putBuf(b.body)
		return
	}
	size := int64(len(b.body))
	if w.dropOld {
		for w.memBytes+size > w.memMax && w.evictOldestLocked() {
		}
	}
	if w.memBytes+size > w.memMax {
		w.loss.lost(b.lines, lostMemoryFull, w.fullReason())
		w.jr.done(b)
		putBuf(b.body)
		return
	}
	w.trackLocked(b, 1)
	if len(w.overflow) == 0 {
		select {
		case w.sealed <- b:
			return
		default:
		}
	}
	w.overflow = append(w.overflow, b)
	w.signalOverflowLocked()
}

// trackLocked adds (sign 1) or removes (-1) b from the memory backlog.
func (w *Writer) trackLocked(b *batch, sign int) {
	w.memBytes += int64(sign * len(b.body))
	w.memLines += sign * b.lines
	w.memPeak = max(w.memPeak, w.memBytes)
	w.m.memoryBytes.Set(float64(w.memBytes))
}

// untrack is called by Run for a batch it took from sealed directly.
func (w *Writer) untrack(b *batch) {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	w.trackLocked(b, -1)
}

// evictOldestLocked drops the oldest batch of the backlog (sealed, then
// overflow), reporting false when there is none.
func (w *Writer) evictOldestLocked() bool {
	var old *batch
	select {
	case old = <-w.sealed:
	default:
		if len(w.overflow) == 0 {
			return false
		}
		old = w.overflow[0]
		w.overflow[0] = nil
		w.overflow = w.overflow[1:]
	}
	w.trackLocked(old, -1)
	w.loss.lost(old.lines, lostMemoryFull, w.fullReason())
	w.jr.done(old)
	if !old.gz {
		putBuf(old.body)
	}
	return true
}

// unshift puts batches Run could neither send nor spool back at the front
// of the backlog, oldest first, followed by whatever still waits in
// sealed (older than overflow), so the order of writes is kept. Past the
// memory bound the full policy drops the oldest or the newest.
func (w *Writer) unshift(bs []*batch) {
	if len(bs) == 0 {
		return
	}
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	for _, b := range bs {
		w.trackLocked(b, 1)
	}
	w.overflow = append(w.drainSealedLocked(slices.Clone(bs)), w.overflow...)
	for w.memBytes > w.memMax && len(w.overflow) > 0 {
		var old *batch
		if w.dropOld {
			old = w.overflow[0]
			w.overflow = w.overflow[1:]
		} else {
			old = w.overflow[len(w.overflow)-1]
			w.overflow = w.overflow[:len(w.overflow)-1]
		}
		w.trackLocked(old, -1)
		w.loss.lost(old.lines, lostMemoryFull, w.fullReason())
	}
	w.signalOverflowLocked()
}

// fullReason is the log detail of a memory_full drop (built once).
func (w *Writer) fullReason() string { return w.memFull }

func memFullReason(limit int64, dropOld bool) string {
	policy := "drop_newest"
	if dropOld {
		policy = "drop_oldest"
	}
	return fmt.Sprintf("batches held in memory reached influxdb.memory_limit_mb (%d bytes): InfluxDB and the spool both behind or failing; policy %s", limit, policy)
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
		w.trackLocked(b, -1)
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
	w.trackLocked(b, -1)
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

// drainSealedLocked appends what waits in sealed to out, oldest first.
func (w *Writer) drainSealedLocked(out []*batch) []*batch {
	for {
		select {
		case b := <-w.sealed:
			out = append(out, b)
		default:
			return out
		}
	}
}

// takeAll returns every batch waiting for Run, oldest first. stop marks
// the writer stopped, so later batches are counted as lost instead of
// waiting in a queue nobody reads.
func (w *Writer) takeAll(stop bool) []*batch {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	out := append(w.drainSealedLocked(nil), w.overflow...)
	w.overflow = nil
	for _, b := range out {
		w.trackLocked(b, -1)
	}
	if stop {
		w.ovStopped = true
	}
	return out
}

// Status is a snapshot of where unsent data waits, for health checks and
// system alarms (spool in use, spool above a share of its bound, spool
// disk failing, memory backlog, data lost).
type Status struct {
	// SpoolBytes is the spool's size (disk, or memory without spool.dir);
	// SpoolLimit its bound (influxdb.spool.max_size_mb).
	SpoolBytes, SpoolLimit int64
	// SpoolError is the error of the last spool write when the spool disk
	// refuses writes (full, read-only, I/O error); nil when it works.
	SpoolError error
	// MemoryBytes and MemoryLines are the sealed batches held in memory,
	// neither sent nor spooled; MemoryLimit is their bound
	// (influxdb.memory_limit_mb) and MemoryPeak the most held so far.
	MemoryBytes, MemoryLimit, MemoryPeak int64
	MemoryLines                          int
	// LinesLost counts lines dropped since the writer started (also
	// linewatch_store_lines_lost_total).
	LinesLost int64
}

// Status reports the writer's buffers; safe from any goroutine.
func (w *Writer) Status() Status {
	st := Status{SpoolBytes: w.m.spoolUsed.Load(), SpoolLimit: w.spoolMax, MemoryLimit: w.memMax, LinesLost: w.loss.totalLost()}
	w.stMu.Lock()
	st.SpoolError = w.spoolErr
	w.stMu.Unlock()
	w.ovMu.Lock()
	st.MemoryBytes, st.MemoryLines, st.MemoryPeak = w.memBytes, w.memLines, w.memPeak
	w.ovMu.Unlock()
	return st
}

func (w *Writer) setSpoolErr(err error) {
	w.stMu.Lock()
	w.spoolErr = err
	w.stMu.Unlock()
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
