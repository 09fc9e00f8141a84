package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
)

// ReadTransitions reads the ALARMS stream from start (zero: the
// beginning) up to its last message at the time of the call, dropping
// repeated transition ids (a publish retried after JetStream's duplicate
// window).
func ReadTransitions(ctx context.Context, js jetstream.JetStream, start time.Time) ([]Transition, error) {
	cfg := jetstream.ConsumerConfig{
		Name:      bus.OperatorConsumerName(), // the operator role's consumers carry its prefix
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if !start.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.CreateConsumer(ctx, bus.StreamAlarms, cfg)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", bus.StreamAlarms, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		js.DeleteConsumer(dctx, bus.StreamAlarms, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	seen := map[string]bool{}
	var out []Transition
	for got := uint64(0); got < pending; {
		batch, err := cons.Fetch(int(min(pending-got, 1000)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", bus.StreamAlarms, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var t Transition
			if err := json.Unmarshal(m.Data(), &t); err != nil || t.ID == "" {
				continue // not a transition; readers skip foreign messages
			}
			if !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t)
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read stream %s: %w", bus.StreamAlarms, err)
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("read stream %s: no messages after %d of %d", bus.StreamAlarms, got, pending)
		}
		got += uint64(n)
	}
	return out, nil
}
