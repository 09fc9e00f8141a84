package config

import (
	"path/filepath"
	"time"
)

// Defaults, in one place. docs/configuration.md lists the same values.
const (
	DefaultSite = "site1"
	// DefaultTimeZone is the site time zone when the config names none.
	DefaultTimeZone = "UTC"
	// Roles of the users file allowed to sign reports by default
	// (reports.signatures); responsibility defaults to the approvers.
	DefaultReviewRole         = "qa_reviewer"
	DefaultApprovalRole       = "qa_approver"
	DefaultCheckpointInterval = time.Minute
	DefaultDataDir            = "linewatch-data"
	DefaultInfluxDatabase     = "linewatch"
	DefaultInfluxRP           = "autogen"
	DefaultBatchSize          = 5000
	DefaultFlushInterval      = time.Second
	DefaultInfluxTimeout      = 10 * time.Second
	DefaultWriters            = 2
	DefaultSpoolMaxSizeMB     = 1024
	DefaultSpoolFullPolicy    = "drop_oldest"
	DefaultMemoryLimitMB      = 128
	DefaultNATSListen         = "127.0.0.1:4222"
	DefaultNATSReplicas       = 1
	DefaultTelemetryMaxAge    = 7 * 24 * time.Hour
	DefaultMaxInflight        = 256
	DefaultNATSSpoolMemoryMB  = 64
	DefaultMetricsListen      = "127.0.0.1:9464"
	DefaultReconnectMin       = 500 * time.Millisecond
	DefaultReconnectMax       = 30 * time.Second
	DefaultRequestTimeout     = 5 * time.Second
	DefaultCommLossAlarmDelay = 10 * time.Second
	DefaultAnalyticsLagAlarm  = 2 * time.Minute
	DefaultAnalyticsLeaseTTL  = 5 * time.Second
	DefaultSecurityPolicy     = "None"
	DefaultSecurityMode       = "None"
	DefaultAuthType           = "anonymous"
	DefaultPollInterval       = time.Second
	DefaultPublishingInterval = time.Second
	DefaultSamplingInterval   = 500 * time.Millisecond
	DefaultQueueSize          = 10
	DefaultDeadbandType       = "none"
	DefaultConsumer           = "analytics"
	DefaultPriority           = "medium"
	DefaultShelveMax          = 8 * time.Hour
	DefaultAlarmRetention     = 365 * 24 * time.Hour
	DefaultFloodThreshold     = 10
	DefaultFloodWindow        = 10 * time.Minute
	DefaultFloodEndBelow      = 5
	DefaultChatterCount       = 3
	DefaultChatterWindow      = time.Minute
	DefaultConsoleListen      = "127.0.0.1:8080"
	DefaultWebhookTimeout     = 10 * time.Second
)

// DefaultSuppressWhenState are machine states whose alarms are suppressed by design.
var DefaultSuppressWhenState = []string{"stopped", "cip"}

func (c *Config) applyDefaults() {
	setStr(&c.Site, DefaultSite)
	setStr(&c.TimeZone, DefaultTimeZone)
	setStr(&c.DataDir, DefaultDataDir)

	in := &c.InfluxDB
	if in.Bucket == "" && in.Org == "" {
		setStr(&in.Database, DefaultInfluxDatabase)
		setStr(&in.RetentionPolicy, DefaultInfluxRP)
	}
	setInt(&in.BatchSize, DefaultBatchSize)
	setDur(&in.FlushInterval, DefaultFlushInterval)
	setDur(&in.Timeout, DefaultInfluxTimeout)
	setInt(&in.Writers, DefaultWriters)
	if in.Gzip == nil {
		t := true
		in.Gzip = &t
	}
	setStr(&in.Spool.Dir, filepath.Join(c.DataDir, "spool"))
	if in.Spool.MaxSizeMB == 0 {
		in.Spool.MaxSizeMB = DefaultSpoolMaxSizeMB
	}
	setStr(&in.Spool.FullPolicy, DefaultSpoolFullPolicy)
	if in.MemoryLimitMB == 0 {
		in.MemoryLimitMB = DefaultMemoryLimitMB
	}

	n := &c.NATS
	if n.URL == "" {
		setStr(&n.Embedded.Listen, DefaultNATSListen)
		setStr(&n.Embedded.StoreDir, filepath.Join(c.DataDir, "nats"))
	}
	setInt(&n.Replicas, DefaultNATSReplicas)
	setDur(&n.Telemetry.MaxAge, DefaultTelemetryMaxAge)
	setInt(&n.MaxInflight, DefaultMaxInflight)
	setInt(&n.SpoolMemoryMB, DefaultNATSSpoolMemoryMB)

	co := &c.Collector
	setStr(&co.MetricsListen, DefaultMetricsListen)
	setStr(&co.PKIDir, filepath.Join(c.DataDir, "pki"))
	setDur(&co.ReconnectMin, DefaultReconnectMin)
	setDur(&co.ReconnectMax, DefaultReconnectMax)
	setDur(&co.RequestTimeout, DefaultRequestTimeout)
	setDur(&co.CommLossAlarmDelay, DefaultCommLossAlarmDelay)

	for li := range c.Lines {
		for mi := range c.Lines[li].Machines {
			m := &c.Lines[li].Machines[mi]
			setStr(&m.SecurityPolicy, DefaultSecurityPolicy)
			setStr(&m.SecurityMode, DefaultSecurityMode)
			setStr(&m.TrustedCertsDir, filepath.Join(co.PKIDir, "trusted"))
			setStr(&m.Auth.Type, DefaultAuthType)
			for gi := range m.PollGroups {
				setDur(&m.PollGroups[gi].Interval, DefaultPollInterval)
			}
			for si := range m.Subscriptions {
				s := &m.Subscriptions[si]
				setDur(&s.PublishingInterval, DefaultPublishingInterval)
				setDur(&s.SamplingInterval, DefaultSamplingInterval)
				if s.QueueSize == 0 {
					s.QueueSize = DefaultQueueSize
				}
				setStr(&s.Deadband.Type, DefaultDeadbandType)
			}
			// A machine with tags but no groups polls them all every second.
			if len(m.PollGroups) == 0 && len(m.Subscriptions) == 0 && len(m.Tags) > 0 {
				g := PollGroup{Name: "default", Interval: DefaultPollInterval}
				for _, t := range m.Tags {
					g.Tags = append(g.Tags, t.Name)
				}
				m.PollGroups = []PollGroup{g}
			}
		}
	}

	a := &c.Analytics
	setStr(&a.Consumer, DefaultConsumer)
	setDur(&a.LagAlarm, DefaultAnalyticsLagAlarm)
	setDur(&a.LeaseTTL, DefaultAnalyticsLeaseTTL)
	setDur(&a.LeaseRenew, a.LeaseTTL/3)
	for ri := range a.Rules {
		for _, d := range a.Rules[ri].Specs() {
			d.Spec.SetDefaults()
		}
	}

	al := &c.Alarms
	setStr(&al.DefaultPriority, DefaultPriority)
	setDur(&al.ShelveMax, DefaultShelveMax)
	setDur(&al.Retention, DefaultAlarmRetention)
	if al.SuppressWhenState == nil {
		al.SuppressWhenState = append([]string(nil), DefaultSuppressWhenState...)
	}
	setInt(&al.Flood.Threshold, DefaultFloodThreshold)
	setDur(&al.Flood.Window, DefaultFloodWindow)
	setInt(&al.Flood.EndBelow, DefaultFloodEndBelow)
	setInt(&al.Chatter.Count, DefaultChatterCount)
	setDur(&al.Chatter.Window, DefaultChatterWindow)
	for i := range al.Routes {
		if w := al.Routes[i].Webhook; w != nil {
			setDur(&w.Timeout, DefaultWebhookTimeout)
		}
	}

	setStr(&c.Console.Listen, DefaultConsoleListen)
	setStr(&c.Reports.SigningKeyFile, filepath.Join(c.DataDir, "keys", "report-signing.key"))
	setStr(&c.Reports.OutputDir, filepath.Join(c.DataDir, "reports"))
	sr := &c.Reports.Signatures
	if sr.Review == nil {
		sr.Review = []string{DefaultReviewRole}
	}
	if sr.Approval == nil {
		sr.Approval = []string{DefaultApprovalRole}
	}
	if sr.Responsibility == nil {
		sr.Responsibility = []string{DefaultApprovalRole}
	}
	if sr.Required == nil {
		sr.Required = []string{"review", "approval"}
	}
	setDur(&c.Audit.CheckpointInterval, DefaultCheckpointInterval)
	setStr(&c.Audit.KeyFile, filepath.Join(c.DataDir, "keys", "audit.key"))
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt[T ~int | ~int64](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

func setDur(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

func setF(p *float64, v float64) {
	if *p == 0 {
		*p = v
	}
}
