package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// Provisioning is every stream and key-value bucket of linewatch, each
// declared by the package that owns it, with nats.replicas.
type Provisioning struct {
	Streams []jetstream.StreamConfig
	Buckets []jetstream.KeyValueConfig
}

// Provisioned gathers the declarations for cfg.
func Provisioned(cfg *config.Config) Provisioning {
	r := cfg.NATS.Replicas
	p := Provisioning{
		Streams: bus.StreamConfigs(bus.StreamOptions{Replicas: r, TelemetryMaxAge: cfg.NATS.Telemetry.MaxAge, AlarmsMaxAge: cfg.Alarms.Retention}),
		Buckets: []jetstream.KeyValueConfig{
			alerts.BucketConfig(r),
			alerts.SharedBucketConfig(r),
			identity.AuthBucketConfig(r),
			notify.DedupeBucketConfig(0, r),
			engine.StateBucketConfig(r),
			engine.LeaseBucketConfig(cfg.Analytics.LeaseTTL, r),
		},
	}
	p.Streams = append(p.Streams, audit.StreamConfig(r), audit.CheckpointStreamConfig(r))
	return p
}

// ProvisionOptions tune Provision.
type ProvisionOptions struct {
	// Attempt bounds one create-or-update call (default 10 s).
	Attempt time.Duration
	// PeerWait is how long "no suitable peers" / insufficient resources
	// count as a cluster still forming before they are reported as
	// nats.replicas larger than the cluster (default 2 min).
	PeerWait time.Duration
	Clock    clock.Clock
	Logger   *slog.Logger
}

// Provision creates or updates every stream and bucket of p: idempotent,
// and patient while the cluster forms — no responders, timeouts,
// JetStream not yet enabled or without a leader are retried with backoff
// until ctx ends. Only a permanent error fails it, with what to do.
func Provision(ctx context.Context, js jetstream.JetStream, p Provisioning, o ProvisionOptions) error {
	if o.Attempt <= 0 {
		o.Attempt = 10 * time.Second
	}
	if o.PeerWait <= 0 {
		o.PeerWait = 2 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for _, sc := range p.Streams {
		err := retry(ctx, o, "stream "+sc.Name, sc.Replicas, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, sc)
			return err
		})
		if err != nil {
			return err
		}
	}
	for _, kc := range p.Buckets {
		err := retry(ctx, o, "key-value bucket "+kc.Bucket, kc.Replicas, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, kc)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func retry(ctx context.Context, o ProvisionOptions, what string, replicas int, f func(context.Context) error) error {
	policy := backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true}
	start := o.Clock.Monotonic()
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, o.Attempt)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("JetStream %s not provisioned before shutdown: %w", what, err)
		}
		switch transience(err) {
		case permanent:
			return fmt.Errorf("JetStream %s: %w", what, err)
		case placement:
			if o.Clock.Monotonic()-start > o.PeerWait {
				return fmt.Errorf("JetStream %s with %d replicas: %w (for %s: is nats.replicas larger than the number of JetStream servers in the cluster?)",
					what, replicas, err, o.PeerWait)
			}
		}
		if n == 1 || n%10 == 0 {
			o.Logger.Warn("JetStream not ready; retrying", "what", what, "attempt", n, "err", err)
		}
		if err := policy.Wait(ctx, o.Clock, n); err != nil {
			return fmt.Errorf("JetStream %s not provisioned before shutdown: %w", what, ctx.Err())
		}
	}
}

type kind int

const (
	permanent kind = iota
	transient      // retried until ctx ends
	placement      // retried for PeerWait: a cluster still forming, or too few servers
)

// transience classifies a create-or-update error.
func transience(err error) kind {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case 10005, 10023: // no suitable peers; insufficient resources
			return placement
		case 10008, 10009, jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount:
			return transient // cluster unavailable, no leader, JetStream not started yet
		}
		if api.Code == 503 || api.Code == 408 {
			return transient
		}
		return permanent
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrDisconnected):
		return transient
	}
	return permanent
}
