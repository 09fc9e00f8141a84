package telemetry

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/health"
)

// failingAfterTries: a telemetry message that failed this many publish
// attempts (about a second of retries) raises "NATS publish failing"; a
// single retried hiccup does not.
const failingAfterTries = 3

// pubHealth turns publish outcomes into the health.NATSPublish condition.
// Used with the publisher's mutex held (the subjects' workers share it).
type pubHealth struct {
	report  func(health.Condition)
	gauge   prometheus.Gauge
	now     func() time.Time
	failing bool
	known   bool // a state was reported (the first success reports "clear", for an alarm left by a previous process)
}

func (h *pubHealth) ok() {
	if !h.failing && h.known {
		return
	}
	h.failing, h.known = false, true
	h.set(false, "")
}

func (h *pubHealth) failed(tries int, err error) {
	if h.failing || tries < failingAfterTries {
		return
	}
	h.failing, h.known = true, true
	reason := "telemetry publish to JetStream failing"
	if err != nil {
		reason += ": " + err.Error()
	}
	h.set(true, reason)
}

func (h *pubHealth) set(active bool, reason string) {
	if h.gauge != nil {
		v := 0.0
		if active {
			v = 1
		}
		h.gauge.Set(v)
	}
	if h.report != nil {
		h.report(health.Condition{Source: health.SourceCollector, Name: health.NATSPublish,
			Active: active, Priority: health.High, Reason: reason, Since: h.now()})
	}
}

// dropHealth is the health.NATSSpoolDrop condition: raised when the full
// spool drops its oldest messages, its reason naming how many (updated at
// the 1st, 2nd, 4th… drop, so a long outage does not report per message);
// cleared once the spool is back under half its bound. Used with the
// publisher's mutex held.
type dropHealth struct {
	report func(health.Condition)
	now    func() time.Time
	limit  int
	raised bool
	count  uint64 // dropped since raised
}

func (h *dropHealth) dropped(n int) {
	was := h.count
	h.count += uint64(n)
	if h.raised && bits.Len64(was) == bits.Len64(h.count) {
		return
	}
	h.raised = true
	h.set(true, fmt.Sprintf("telemetry spool full (nats.spool_memory_mb, %d MiB): %d oldest messages dropped from NATS since %s (InfluxDB has them)",
		h.limit>>20, h.count, h.now().Format(time.RFC3339)))
}

func (h *dropHealth) clear() {
	if !h.raised {
		return
	}
	h.raised, h.count = false, 0
	h.set(false, "")
}

func (h *dropHealth) set(active bool, reason string) {
	if h.report != nil {
		h.report(health.Condition{Source: health.SourceCollector, Name: health.NATSSpoolDrop,
			Active: active, Priority: health.High, Reason: reason, Since: h.now()})
	}
}
