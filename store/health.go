package store

import (
	"fmt"

	"github.com/linewatch/linewatch/health"
)

// spoolHighFraction of influxdb.spool.max_size_mb raises health.SpoolHigh.
const spoolHighFraction = 0.8

// writerHealth tracks the writer's system conditions; used by the
// dispatcher goroutine only.
type writerHealth struct {
	report             func(health.Condition)
	known              bool
	failing, inUse, hi bool
}

// reportHealth updates InfluxDB-write and spool conditions after a send
// result (called by the dispatcher for every result).
func (w *Writer) reportHealth(r result) {
	h := &w.health
	if h.report == nil {
		return
	}
	now := w.clock.Now()
	first := !h.known
	h.known = true
	switch r.out {
	case outOK, outReject: // InfluxDB answered and took (or judged) the batch
		if h.failing || first {
			h.failing = false
			h.report(health.Condition{Source: health.SourceStore, Name: health.InfluxWrite, Since: now})
		}
	case outRetry:
		if !h.failing {
			h.failing = true
			reason := r.kind
			if r.err != nil {
				reason = r.err.Error()
			}
			h.report(health.Condition{Source: health.SourceStore, Name: health.InfluxWrite, Active: true,
				Priority: health.High, Reason: reason, Since: now})
		}
	}
	pending, bytes := w.sp.Pending(), w.sp.Bytes()
	if inUse := pending > 0; inUse != h.inUse || first {
		h.inUse = inUse
		h.report(health.Condition{Source: health.SourceStore, Name: health.SpoolInUse, Active: inUse,
			Priority: health.Low, Reason: spoolReason(pending, bytes, w.spoolMax), Since: now})
	}
	if hi := w.spoolMax > 0 && float64(bytes) >= spoolHighFraction*float64(w.spoolMax); hi != h.hi || first {
		h.hi = hi
		h.report(health.Condition{Source: health.SourceStore, Name: health.SpoolHigh, Active: hi,
			Priority: health.High, Reason: spoolReason(pending, bytes, w.spoolMax), Since: now})
	}
}

func spoolReason(pending int, bytes, limit int64) string {
	pct := 0.0
	if limit > 0 {
		pct = 100 * float64(bytes) / float64(limit)
	}
	return fmt.Sprintf("%d batches, %.1f MiB of %.0f MiB (%.0f %%) wait in the spool", pending, float64(bytes)/(1<<20), float64(limit)/(1<<20), pct)
}
