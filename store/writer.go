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

	mu      sync.Mutex
	lb      lineBuilder
	lines   int
	encErrs int

	sealed   chan *batch
	flushReq chan chan struct{}
	done     chan struct{}
	started  atomic.Bool

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
		backoffMin: opts.BackoffMin, backoffMax: opts.BackoffMax,
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
	dropOldest := cfg.Spool.FullPolicy != "drop_newest"
	if cfg.Spool.Dir != "" {
		if w.sp, err = openDiskSpool(cfg.Spool.Dir, maxBytes, dropOldest, w.log, w.m); err != nil {
			return nil, err
		}
	} else {
		w.log.Warn("influxdb.spool.dir is empty: batches wait in memory while InfluxDB is down and are lost on a crash")
		w.sp = &memSpool{maxBytes: maxBytes, dropOldest: dropOldest, log: w.log, m: w.m}
	}
	// Room for bursts while the router is busy spooling (fsync per batch) during
	// an outage: a full queue would block the collector's poll loop.
	w.sealed = make(chan *batch, 256)
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

// WriteSamples encodes samples into the current batch. It never waits for
// the network: full batches are handed to Run, which sends or spools them
// (it may wait briefly when Run is behind on disk). Samples that have no
// line-protocol form (empty or invalid tag values) are counted and logged.
func (w *Writer) WriteSamples(ss []sample.Sample) {
	now := w.clock.Now()
	var full []*batch
	w.mu.Lock()
	for i := range ss {
		if err := w.lb.sample(&ss[i], now); err != nil {
			w.encodeErrorLocked(err, ss[i].Key())
			continue
		}
		w.lines++
		if w.lines >= w.batchSize {
			full = append(full, w.sealLocked())
		}
	}
	w.mu.Unlock()
	for _, b := range full {
		w.enqueue(b)
	}
}

// WritePoint encodes one point of another measurement (alarms, batches,
// spc, collector_status) into the current batch.
func (w *Writer) WritePoint(p Point) {
	now := w.clock.Now()
	var full *batch
	w.mu.Lock()
	if err := w.lb.point(&p, now); err != nil {
		w.encodeErrorLocked(err, p.Measurement)
	} else {
		w.lines++
		if w.lines >= w.batchSize {
			full = w.sealLocked()
		}
	}
	w.mu.Unlock()
	if full != nil {
		w.enqueue(full)
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

func (w *Writer) sealCurrent() *batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lines == 0 {
		return nil
	}
	return w.sealLocked()
}

func (w *Writer) enqueue(b *batch) {
	select {
	case w.sealed <- b:
	case <-w.done:
		w.m.spoolDropped.Add(float64(b.lines))
		w.log.Error("store: DATA LOST: write after the writer stopped", "lines", b.lines)
	}
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

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf() []byte {
	p := bufPool.Get().(*[]byte)
	return (*p)[:0]
}

func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > 64<<20 {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}
