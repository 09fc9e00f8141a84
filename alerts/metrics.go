package alerts

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a finding (label outcome of linewatch_alerts_findings_total).
const (
	outcomeApplied     = "applied" // changed its alarm (a transition, or a delay started or cancelled)
	outcomeRedelivered = CodeRedelivered
	outcomeSuperseded  = CodeSuperseded
	outcomeUndecodable = "undecodable" // a FINDINGS message no version decodes (terminated)
	outcomeRefused     = "refused"     // refused by the state machine for good (terminated)
)

type metrics struct {
	findings *prometheus.CounterVec
	floods   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "linewatch_alerts_findings_total",
			Help: "Findings this alerts worker handled, by outcome: applied, redelivered (its FINDINGS sequence was already applied), duplicate (same finding id), superseded (older than the last one applied to its alarm: logged), no_change, undecodable, refused (by the state machine: logged)."},
			[]string{"outcome"}),
		floods: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "linewatch_alerts_flood_summaries_total",
			Help: "Flood summaries (flood_start, flood_end) this alerts worker decided and published; summed over workers, one per flood event."},
			[]string{"event"}),
	}
	for _, o := range []string{outcomeApplied, outcomeRedelivered, CodeDuplicate, outcomeSuperseded, CodeNoChange, outcomeUndecodable, outcomeRefused} {
		m.findings.WithLabelValues(o)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.findings, m.floods} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("alerts metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (s *Service) count(outcome string) { s.metrics.findings.WithLabelValues(outcome).Inc() }
