package store

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of linewatch_store_lines_lost_total.
const (
	lostSpoolFull    = "spool_full"    // the spool reached influxdb.spool.max_size_mb
	lostMemoryFull   = "memory_full"   // batches held in memory reached influxdb.memory_limit_mb
	lostSpoolCorrupt = "spool_corrupt" // a spool record failed its checksum
	lostStopped      = "stopped"       // written after Run returned, or not spoolable at shutdown
)

// lossLogEvery rate-limits the DATA LOST log line.
const lossLogEvery = 10 * time.Second

// lossLog counts lost lines by reason and logs them as one ERROR line at
// most once per lossLogEvery, with the lines lost since the last line: a
// full disk drops a batch per flush and must not flood the log as well.
// It is safe for concurrent use (writers and Run both drop).
type lossLog struct {
	log      *slog.Logger
	now      func() time.Time
	counters map[string]prometheus.Counter // by reason, resolved once: drops can be per batch

	mu       sync.Mutex
	pending  map[string]int // lines lost since the last log line, by reason
	loggedAt time.Time
	total    int64
}

func newLossLog(log *slog.Logger, now func() time.Time, c *prometheus.CounterVec) *lossLog {
	l := &lossLog{log: log, now: now, counters: map[string]prometheus.Counter{}, pending: map[string]int{}}
	for _, r := range []string{lostSpoolFull, lostMemoryFull, lostSpoolCorrupt, lostStopped} {
		l.counters[r] = c.WithLabelValues(r)
	}
	return l
}

// lost records lines dropped for reason; detail says what bound or
// policy applied, for the log line.
func (l *lossLog) lost(lines int, reason, detail string) {
	if lines <= 0 {
		return
	}
	l.counters[reason].Add(float64(lines))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total += int64(lines)
	l.pending[reason] += lines
	if now := l.now(); l.loggedAt.IsZero() || now.Sub(l.loggedAt) >= lossLogEvery {
		l.emitLocked(now, detail)
	}
}

// tick logs lines lost since the last line once the rate limit allows,
// so a loss that stopped is still reported.
func (l *lossLog) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) > 0 && l.now().Sub(l.loggedAt) >= lossLogEvery {
		l.emitLocked(l.now(), "")
	}
}

// flush logs what is pending whatever the rate limit (at stop).
func (l *lossLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) > 0 {
		l.emitLocked(l.now(), "")
	}
}

func (l *lossLog) emitLocked(now time.Time, detail string) {
	lines := 0
	attrs := []any{}
	for r, n := range l.pending {
		lines += n
		attrs = append(attrs, slog.Int("lost_"+r, n))
	}
	if detail == "" {
		detail = "lines lost since the last DATA LOST line, by reason in lost_*"
	}
	attrs = append([]any{"lines", lines, "total_lost", l.total, "reason", detail, "log_every", lossLogEvery}, attrs...)
	l.log.Error("store: DATA LOST: lines dropped", attrs...)
	clear(l.pending)
	l.loggedAt = now
}

func (l *lossLog) totalLost() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
