package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	// Attempt caps one create-or-update call (default 10 s). The first
	// attempt has FirstAttempt; each one after a timeout doubles it up to
	// Attempt.
	Attempt time.Duration
	// FirstAttempt bounds the first create-or-update call (default 1 s):
	// a fresh cluster may never answer a create that raced another
	// process's create of the same stream (see Provision), so waiting
	// long for that answer only delays the start.
	FirstAttempt time.Duration
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
//
// Processes that start together create the same streams together. On a
// clustered server (nats-server 2.15) the meta leader then proposes the
// equal assignments one after the other and none of the racing creates
// may get an answer, although the stream is made. So an attempt is short
// and a timed-out one is followed at once by another create-or-update,
// which finds the stream and updates it (an update is answered); the
// streams and buckets are provisioned side by side, so a start costs one
// such attempt, not one per stream.
func Provision(ctx context.Context, js jetstream.JetStream, p Provisioning, o ProvisionOptions) error {
	if o.Attempt <= 0 {
		o.Attempt = 10 * time.Second
	}
	if o.FirstAttempt <= 0 {
		o.FirstAttempt = time.Second
	}
	o.FirstAttempt = min(o.FirstAttempt, o.Attempt)
	if o.PeerWait <= 0 {
		o.PeerWait = 2 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// stop ends the retries (not the attempts in flight, so each of those
	// still reports its own permanent error) once one has failed for good.
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	// errs in declaration order; cut marks those ended by another's error.
	errs := make([]error, len(p.Streams)+len(p.Buckets))
	cut := make([]bool, len(errs))
	i := 0
	do := func(what string, replicas int, f func(context.Context) error) {
		k := i
		i++
		wg.Go(func() {
			if err := retry(ctx, stop, o, what, replicas, f); err != nil {
				errs[k], cut[k] = err, errors.Is(err, errCut)
				cancel() // a permanent error: the others need not go on
			}
		})
	}
	for _, sc := range p.Streams {
		do("stream "+sc.Name, sc.Replicas, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, sc)
			return err
		})
	}
	for _, kc := range p.Buckets {
		do("key-value bucket "+kc.Bucket, kc.Replicas, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, kc)
			return err
		})
	}
	wg.Wait()
	// The first permanent error in declaration order, not one cut short by it.
	var first error
	for k, err := range errs {
		if err != nil && !cut[k] {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// errCut: a retry ended because another stream or bucket failed for good.
var errCut = errors.New("stopped: another stream or bucket failed")

func retry(ctx, stop context.Context, o ProvisionOptions, what string, replicas int, f func(context.Context) error) error {
	policy := backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true}
	attempt := backoff.Policy{Min: o.FirstAttempt, Max: o.Attempt}
	start := o.Clock.Monotonic()
	timeouts := 0
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, attempt.Delay(timeouts+1))
		err := f(actx)
		timedOut := actx.Err() != nil
		cancel()
		if err == nil {
			return nil
		}
		k := transience(err)
		if k == permanent {
			return fmt.Errorf("JetStream %s: %w", what, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("JetStream %s not provisioned before shutdown: %w", what, err)
		}
		switch k {
		case placement:
			if o.Clock.Monotonic()-start > o.PeerWait {
				return fmt.Errorf("JetStream %s with %d replicas: %w (for %s: is nats.replicas larger than the number of JetStream servers in the cluster?)",
					what, replicas, err, o.PeerWait)
			}
		}
		if n == 1 || n%10 == 0 {
			o.Logger.Warn("JetStream not ready; retrying", "what", what, "attempt", n, "err", err)
		} else {
			o.Logger.Debug("JetStream not ready; retrying", "what", what, "attempt", n, "err", err)
		}
		if stop.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("JetStream %s not provisioned: %w (%w)", what, err, errCut)
		}
		if timedOut {
			// The attempt has waited already; the next one is longer.
			timeouts++
			continue
		}
		if werr := policy.Wait(stop, o.Clock, n); werr != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("JetStream %s not provisioned: %w (%w)", what, err, errCut)
			}
			return fmt.Errorf("JetStream %s not provisioned before shutdown: %w", what, err)
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
	if errors.As(err, &api) && (api.ErrorCode == 10005 || api.ErrorCode == 10023) {
		return placement // no suitable peers; insufficient resources
	}
	if bus.Unanswered(err) || errors.Is(err, context.Canceled) {
		return transient
	}
	return permanent
}
