package alerts

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
)

// SystemDetector is the detector name of system (diagnostic) alarms; an
// alarms.priorities rule with detectors: [system] sets their priority.
const SystemDetector = "system"

// SystemLine is the line of a system alarm that concerns the whole site
// (InfluxDB, NATS, the spool, the notifier); its machine is the reporting
// role. Alarm ids are site/<line or _system>/<machine or role>/<condition>/system.
const SystemLine = "_system"

// HealthConsumer is the durable consumer of stream HEALTH shared by all
// alerts workers.
const HealthConsumer = "alerts-health"

var systemText = map[string]string{
	health.CommLost:       "OPC UA communication lost",
	health.InfluxWrite:    "InfluxDB unreachable or refusing writes",
	health.SpoolInUse:     "InfluxDB spool in use (data waits on disk)",
	health.SpoolHigh:      "InfluxDB spool above 80 % of its limit",
	health.NATSPublish:    "NATS publish failing",
	health.NATSSpoolDrop:  "NATS telemetry spool full: oldest telemetry dropped from NATS (InfluxDB still has it)",
	health.NotifierNoCons: "notifier without its ALARMS consumer: no notification is sent",
	health.AnalyticsLag:   "analytics lagging behind telemetry",
}

// SystemFinding turns a condition change into the finding that raises or
// clears its alarm through the same state machine as analytics findings.
// Its id depends on the condition and the time of the change only, so a
// republished change is a duplicate.
func SystemFinding(c health.Condition) analytics.Finding {
	f := analytics.Finding{
		Time: c.Since.UTC(), Site: c.Site, Line: c.Line, Machine: c.Machine, Tag: c.Name,
		Detector: SystemDetector, Active: c.Active, Severity: systemSeverity(c.Priority),
	}
	if f.Line == "" {
		f.Line = SystemLine
	}
	if f.Machine == "" {
		f.Machine = c.Source
	}
	f.Message = systemText[c.Name]
	if f.Message == "" {
		f.Message = c.Name
	}
	if c.Reason != "" {
		f.Message += ": " + c.Reason
	}
	f.ID = analytics.MakeID(f)
	return f
}

func systemSeverity(p string) analytics.Severity {
	switch p {
	case health.Low:
		return analytics.Info
	case health.Medium, "":
		return analytics.Warning
	}
	return analytics.Critical
}

// systemPriority is the priority of a system alarm no rule matched.
func systemPriority(s analytics.Severity) Priority {
	switch s {
	case analytics.Info:
		return Low
	case analytics.Warning:
		return Medium
	}
	return High
}

// RunHealth applies condition changes from stream HEALTH until ctx ends
// (a durable consumer shared by all workers, so a change published while
// every worker was down is applied when one is back; one change in
// flight at a time, so a condition's raise and clear are applied in the
// order they were published, whichever workers take them).
func (s *Service) RunHealth(ctx context.Context) error {
	return s.consumeDurable(ctx, bus.StreamHealth, jetstream.ConsumerConfig{
		Durable: HealthConsumer, Description: "system conditions → system alarms, in order",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.opts.FindingsAckWait, MaxDeliver: -1, MaxAckPending: 1,
	}, func(msg jetstream.Msg) {
		stop := s.keepInProgress(ctx, msg)
		defer stop()
		c, err := health.Decode(msg.Data())
		if err != nil {
			s.log.Error("alerts: undecodable health condition dropped", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			return
		}
		if c.Site == "" {
			c.Site = s.cfg.Site
		}
		if err := s.Notify(ctx, []analytics.Finding{SystemFinding(c)}); err != nil {
			s.log.Error("alerts: system condition not applied; redelivering", "condition", c.Key(), "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		_ = msg.Ack()
	})
}
