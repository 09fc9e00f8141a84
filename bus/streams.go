package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamOptions sizes the streams.
type StreamOptions struct {
	Replicas        int
	TelemetryMaxAge time.Duration // default 7 days
	AlarmsMaxAge    time.Duration // default one year
}

// EnsureStreams creates or updates TELEMETRY, FINDINGS, ALARMS, BATCHES and HEALTH.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	for _, sc := range StreamConfigs(o) {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("JetStream stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// StreamConfigs are TELEMETRY, FINDINGS, ALARMS, BATCHES and HEALTH as
// provisioned (one declaration for EnsureStreams and the provisioning step).
func StreamConfigs(o StreamOptions) []jetstream.StreamConfig {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.TelemetryMaxAge == 0 {
		o.TelemetryMaxAge = 7 * 24 * time.Hour
	}
	if o.AlarmsMaxAge == 0 {
		o.AlarmsMaxAge = 365 * 24 * time.Hour
	}
	streams := []jetstream.StreamConfig{
		{
			Name: StreamTelemetry, Subjects: []string{TelemetryAll}, Storage: jetstream.FileStorage,
			MaxAge: o.TelemetryMaxAge, Replicas: o.Replicas, Duplicates: 2 * time.Minute,
			Description: "linewatch samples, one message per machine per read",
		},
		{
			Name: StreamAlarms, Subjects: []string{AlarmsAll}, Storage: jetstream.FileStorage,
			MaxAge: o.AlarmsMaxAge, Replicas: o.Replicas, Duplicates: 10 * time.Minute,
			DenyDelete: true, DenyPurge: true,
			Description: "linewatch alarm transitions (ISA-18.2)",
		},
		{
			Name: StreamFindings, Subjects: []string{FindingsAll}, Storage: jetstream.FileStorage,
			MaxAge: o.TelemetryMaxAge, Replicas: o.Replicas, Duplicates: 10 * time.Minute,
			Description: "analytics findings for alerts workers in other processes",
		},
		{
			Name: StreamBatches, Subjects: []string{BatchesAll}, Storage: jetstream.FileStorage,
			MaxAge: o.AlarmsMaxAge, Replicas: o.Replicas, Duplicates: 10 * time.Minute,
			DenyDelete: true, DenyPurge: true,
			Description: "linewatch batch start and end events",
		},
		{
			Name: StreamHealth, Subjects: []string{HealthAll}, Storage: jetstream.FileStorage,
			MaxAge: o.TelemetryMaxAge, MaxMsgsPerSubject: 100, Replicas: o.Replicas, Duplicates: 10 * time.Minute,
			Description: "linewatch system condition changes (comm loss, InfluxDB, spool, NATS, notifier, analytics lag)",
		},
	}
	return streams
}
