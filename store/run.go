package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// dispatcher is Run's state; only Run's goroutine touches it. It decides
// for every batch whether it goes to a sender or to the spool, so the
// ordering rule lives in one place: while the spool holds anything, new
// batches are appended behind it and the spool is drained first.
type dispatcher struct {
	w        *Writer
	jobs     chan *batch
	q        []*batch // in memory, older than anything in the spool
	maxQ     int
	retryq   []*batch // spooled batches whose send failed, oldest first
	staged   *batch   // read from the spool, not yet handed to a sender
	inflight int
	failing  bool // last send failed retryably: probe with one batch at a time
	failures int
	backoff  clock.Timer
	draining bool
	waiters  []chan struct{}
	// holding: the spool disk refused a write; batches that can be
	// neither sent nor spooled wait at the front of the writer's memory
	// backlog (Writer.unshift). retryDisk: try the disk again with the
	// next batch (set at each flush tick and when spooled data is acked).
	holding   bool
	retryDisk bool
}

// Run sends batches until ctx is cancelled; spooled batches of an
// earlier run are sent first. On cancel it seals the current batch, keeps
// sending for at most DrainTimeout, spools what is left and returns nil.
func (w *Writer) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("store: Writer.Run called twice, or after Close")
	}
	defer close(w.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.closing, cancel)() // Close stops Run like a cancel
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	d := &dispatcher{w: w, jobs: make(chan *batch), maxQ: 4 * w.writers}
	results := make(chan result, w.writers)
	var wg sync.WaitGroup
	for range w.writers {
		wg.Go(func() {
			for b := range d.jobs {
				if w.gzip && !b.gz {
					compress(b)
				}
				results <- w.ep.send(sendCtx, b, w.timeout, w.clock.Now)
			}
		})
	}
	flush := w.clock.NewTimer(untilNextFlush(w.clock.Now(), w.flushEvery))
	defer func() { flush.Stop() }()

	for ctx.Err() == nil {
		next, out := d.peek()
		var backoffC <-chan time.Time
		if d.backoff != nil {
			backoffC = d.backoff.C()
		}
		// While the spool disk fails, batches are taken only when they can
		// be sent now or the disk is to be tried again; the rest wait in
		// the bounded memory backlog.
		sealedC, ovC := w.sealed, w.ovReady
		if d.holding && !d.retryDisk && !d.canSendNow() {
			sealedC, ovC = nil, nil
		}
		select {
		case <-ctx.Done():
		case b := <-sealedC:
			w.untrack(b)
			d.add(b)
		case <-ovC:
			if b := w.takeNext(); b != nil {
				d.add(b)
			}
		case out <- next:
			d.pop(next)
		case r := <-results:
			d.handle(r)
		case <-backoffC:
			d.backoff = nil
		case <-flush.C():
			w.sealCurrentQueued() // behind what is queued; taken in turn
			w.loss.tick()
			if d.holding {
				d.retryDisk = true
				if !w.queuedForRun() {
					// Nothing to retry the disk with (InfluxDB took the
					// backlog): check it directly, so its state is current.
					d.probeDisk()
				}
			}
			flush = w.clock.NewTimer(untilNextFlush(w.clock.Now(), w.flushEvery))
		case ch := <-w.flushReq:
			w.sealCurrentQueued()
			d.waiters = append(d.waiters, ch)
		}
		d.notifyIdle()
	}

	if w.crashCause != nil && errors.Is(context.Cause(ctx), w.crashCause) {
		// Tests: stop like a killed process, leaving memory unsaved.
		cancelSends()
		close(d.jobs)
		go func() {
			for range results {
			}
		}()
		wg.Wait()
		close(results)
		w.sp.Close()
		w.ep.tr.CloseIdleConnections()
		return nil
	}

	// Shutdown: seal, send what is in memory for a bounded time, spool the rest.
	d.draining = true
	if d.backoff != nil {
		d.backoff.Stop()
		d.backoff = nil
	}
	w.sealCurrentQueued()
	for _, b := range w.takeAll(false) {
		d.add(b)
	}
	deadline := w.clock.NewTimer(w.drainTimeout)
drain:
	for {
		// Batches the full disk sent back to memory go to a healthy
		// InfluxDB during the drain rather than being lost at the end.
		for d.holding && !d.failing && len(d.q) < d.maxQ {
			b := w.takeNext()
			if b == nil {
				break
			}
			d.q = append(d.q, b)
		}
		if (len(d.q) == 0 || d.failing) && d.inflight == 0 {
			break
		}
		next, out := d.peek()
		select {
		case out <- next:
			d.pop(next)
		case r := <-results:
			d.handle(r)
		case <-deadline.C():
			break drain
		}
	}
	deadline.Stop()
	cancelSends()
	close(d.jobs)
	for d.inflight > 0 {
		d.handle(<-results)
	}
	wg.Wait()
	// The memory queue is older than what still waits in the hand-off
	// queues: spool it first so a restart replays in write order.
	pending := append(d.q, w.takeAll(true)...)
	d.q = nil
	d.retryDisk = true // a last try, even if the disk failed before
	if i := d.spoolAll(pending); i < len(pending) {
		lost := 0
		for _, b := range pending[i:] {
			lost += b.lines
		}
		w.loss.lost(lost, lostStopped, "the spool disk refused writes while stopping; batches not sent are lost")
	}
	w.loss.flush()
	for _, ch := range d.waiters {
		close(ch) // Flush callers: the data is sent or durably spooled
	}
	if n := w.sp.Pending(); n > 0 {
		w.log.Info("store: stopped with batches in the spool; they are sent on the next start", "batches", n, "bytes", w.sp.Bytes())
	}
	w.sp.Close()
	w.ep.tr.CloseIdleConnections()
	return nil
}

// untilNextFlush is the time to the next multiple of every. Flushes on
// multiples share their wake-up with the collector's poll ticks, which are
// on multiples of the poll interval: on an otherwise idle process each
// separate wake-up of the Go runtime costs ~0.1–0.4 ms of CPU, a large part
// of the collector's cost at 1 000 tags. A line still waits at most every.
func untilNextFlush(now time.Time, every time.Duration) time.Duration {
	return now.Truncate(every).Add(every).Sub(now)
}

// peek returns the next batch to send and the channel to send it on, or
// a nil channel when nothing may be sent now.
func (d *dispatcher) peek() (*batch, chan *batch) {
	if d.backoff != nil || (d.failing && d.inflight > 0) {
		return nil, nil
	}
	if d.draining {
		if d.failing || len(d.q) == 0 {
			return nil, nil
		}
		return d.q[0], d.jobs
	}
	switch {
	case len(d.retryq) > 0:
		return d.retryq[0], d.jobs
	case len(d.q) > 0:
		return d.q[0], d.jobs
	}
	if d.staged == nil {
		b, err := d.w.sp.Next()
		if err != nil {
			d.w.log.Error("store: reading the spool failed", "err", err)
			d.startBackoff(0)
			return nil, nil
		}
		d.staged = b
	}
	if d.staged == nil {
		return nil, nil
	}
	return d.staged, d.jobs
}

func (d *dispatcher) pop(b *batch) {
	switch {
	case len(d.retryq) > 0 && d.retryq[0] == b:
		d.retryq = d.retryq[1:]
	case len(d.q) > 0 && d.q[0] == b:
		d.q = d.q[1:]
	case d.staged == b:
		d.staged = nil
	}
	d.inflight++
}

// add routes a batch taken from the writer: memory queue when it can be
// sent now, else behind the spool.
func (d *dispatcher) add(b *batch) {
	if d.canSendNow() {
		d.q = append(d.q, b)
		return
	}
	d.durable([]*batch{b})
}

// canSendNow: nothing older waits in the spool, and InfluxDB takes writes
// (or, while the disk fails, a probe may go: InfluxDB's recovery could
// not be noticed otherwise, the spool being empty).
func (d *dispatcher) canSendNow() bool {
	if d.w.sp.Pending() > 0 || len(d.retryq) > 0 || d.staged != nil || len(d.q) >= d.maxQ {
		return false
	}
	if !d.failing {
		return true
	}
	return d.holding && d.backoff == nil && d.inflight == 0 && len(d.q) == 0
}

// durable spools bs in order; what the disk refuses goes back to the
// writer's memory backlog, in order.
func (d *dispatcher) durable(bs []*batch) {
	if i := d.spoolAll(bs); i < len(bs) {
		d.w.unshift(bs[i:])
	}
}

// spoolAll appends bs to the spool in order and returns how many it
// took; it stops at the first write the disk refuses. While the disk is
// failing it tries only when retryDisk is set. The first refusal is logged
// once; the return of the disk once.
func (d *dispatcher) spoolAll(bs []*batch) int {
	w := d.w
	for i, b := range bs {
		if d.holding && !d.retryDisk {
			return i
		}
		if w.gzip && !b.gz {
			compress(b)
		}
		if err := w.sp.Append(b); err != nil {
			d.retryDisk = false
			w.setSpoolErr(err)
			if !d.holding {
				d.holding = true
				w.log.Error("store: the spool disk refuses writes; batches wait in memory until it or InfluxDB takes them (bounded by influxdb.memory_limit_mb, then influxdb.spool.full_policy drops data)",
					"err", err, "memory_limit_bytes", w.memMax)
			}
			return i
		}
		w.jr.done(b) // in the spool (or counted lost by a full one)
		if d.holding {
			d.diskBack()
		}
		if w.onSpooled != nil && b.spooled {
			w.onSpooled(b)
		}
	}
	return len(bs)
}

// diskBack ends holding after the spool disk took a write.
func (d *dispatcher) diskBack() {
	w := d.w
	d.holding = false
	w.setSpoolErr(nil)
	st := w.Status()
	w.log.Info("store: the spool disk takes writes again; batches held in memory go to it", "held_lines", st.MemoryLines, "held_bytes", st.MemoryBytes)
}

// probeDisk checks a failing spool disk with a small durable write.
func (d *dispatcher) probeDisk() {
	p, ok := d.w.sp.(interface{ probe() error })
	if !ok {
		return
	}
	if err := p.probe(); err != nil {
		d.w.setSpoolErr(err)
		return
	}
	d.diskBack()
}

func (d *dispatcher) handle(r result) {
	d.inflight--
	w, b := d.w, r.b
	switch r.out {
	case outOK:
		w.m.linesWritten.Add(float64(b.lines))
		w.m.batches.Inc()
		w.m.latency.Observe(r.latency.Seconds())
		d.recovered()
		d.release(b)
	case outReject:
		w.m.writeErrors.WithLabelValues(r.kind).Inc()
		msg := ""
		if r.err != nil {
			msg = r.err.Error()
		}
		n := b.lines
		if r.kind == errKindPartial {
			n = droppedLines(msg, b.lines)
			w.m.linesWritten.Add(float64(b.lines - n))
		}
		w.m.rejectedLines.Add(float64(n))
		w.log.Error("store: InfluxDB rejected lines; they are not retried",
			"status", r.status, "rejected_lines", n, "batch_lines", b.lines, "first_bad_line", firstBadLine(b, msg), "err", r.err)
		d.recovered()
		d.release(b)
	case outRetry:
		w.m.writeErrors.WithLabelValues(r.kind).Inc()
		b.attempts++
		d.failures++
		w.m.retries.Inc() // every retryable failure is retried, from memory or the spool
		if r.kind != errKindAuth && !d.failing {
			w.log.Warn("store: InfluxDB write failed; spooling until it succeeds", "kind", r.kind, "err", r.err)
		} else if r.kind == errKindAuth {
			w.log.Error("store: InfluxDB refuses the credentials or the database; fix influxdb.token/database — data is kept in the spool", "err", r.err)
		}
		d.failing = true
		// Make everything that is only in memory durable.
		pending := append([]*batch(nil), d.q...)
		d.q = nil
		if b.spooled {
			d.retryq = append(d.retryq, b)
			slices.SortStableFunc(d.retryq, func(x, y *batch) int { return cmpU64(x.seg, y.seg) })
		} else {
			pending = append([]*batch{b}, pending...)
		}
		// A failed probe of a held batch is also the moment to try the
		// disk again: both are paced by the backoff.
		d.retryDisk = d.retryDisk || d.holding
		if !d.draining {
			d.durable(pending)
		} else if i := d.spoolAll(pending); i < len(pending) {
			d.q = pending[i:] // a last try to spool them when Run stops
		}
		if !d.draining {
			d.startBackoff(r.retryAfter)
		}
	}
	w.reportHealth(r)
	if w.onResult != nil {
		w.onResult(r)
	}
}

func (d *dispatcher) recovered() {
	if d.failing {
		d.w.log.Info("store: InfluxDB writes succeed again; draining the spool", "spooled_batches", d.w.sp.Pending(), "failed_attempts", d.failures)
	}
	d.failing = false
	d.failures = 0
}

func (d *dispatcher) release(b *batch) {
	d.w.jr.done(b)
	if b.spooled {
		d.w.sp.Ack(b)
		d.retryDisk = d.retryDisk || d.holding // room may have been freed
	} else if !b.gz {
		putBuf(b.body)
	}
}

// startBackoff waits min·2^n with jitter in [d/2, d], capped at max, and
// at least Retry-After.
func (d *dispatcher) startBackoff(retryAfter time.Duration) {
	w := d.w
	delay := backoff.Policy{Min: w.backoffMin, Max: w.backoffMax, Jitter: true}.Delay(d.failures)
	delay = max(delay, retryAfter)
	if d.backoff != nil {
		d.backoff.Stop()
	}
	d.backoff = w.clock.NewTimer(delay)
}

func (d *dispatcher) notifyIdle() {
	if len(d.waiters) == 0 {
		return
	}
	if len(d.q) > 0 || len(d.retryq) > 0 || d.staged != nil || d.inflight > 0 || d.w.sp.Pending() > 0 || d.w.queuedForRun() {
		return
	}
	for _, ch := range d.waiters {
		close(ch)
	}
	d.waiters = nil
}
