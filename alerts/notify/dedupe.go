package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DedupeBucket remembers which notifications were sent, shared by all workers.
const DedupeBucket = "LINEWATCH_NOTIFY_DEDUPE"

const (
	claimSending = "sending"
	claimSent    = "sent"
)

// errBusy: another worker is sending this notification right now.
var errBusy = errors.New("notification is being sent by another worker")

type dedupe struct {
	kv jetstream.KeyValue
	// stale: a "sending" claim older than this belongs to a worker that died.
	stale time.Duration
}

func dedupeKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:20])
}

// claim reserves key. ok=false means it was already sent.
func (d *dedupe) claim(ctx context.Context, key string) (rev uint64, ok bool, err error) {
	rev, err = d.kv.Create(ctx, key, []byte(claimSending))
	if err == nil {
		return rev, true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, false, fmt.Errorf("dedupe claim %s: %w", key, err)
	}
	e, err := d.kv.Get(ctx, key)
	if err != nil {
		return 0, false, fmt.Errorf("dedupe read %s: %w", key, err)
	}
	if string(e.Value()) == claimSent {
		return 0, false, nil
	}
	// Created is the server's wall time, so it is compared with wall time.
	if time.Since(e.Created()) < d.stale {
		return 0, false, errBusy
	}
	rev, err = d.kv.Update(ctx, key, []byte(claimSending), e.Revision())
	if err != nil {
		return 0, false, errBusy
	}
	return rev, true, nil
}

func (d *dedupe) sent(ctx context.Context, key string, rev uint64) error {
	if _, err := d.kv.Update(ctx, key, []byte(claimSent), rev); err != nil {
		return fmt.Errorf("dedupe mark sent %s: %w", key, err)
	}
	return nil
}

// release gives the claim up after a failed send so a redelivery retries.
func (d *dedupe) release(ctx context.Context, key string, rev uint64) {
	_ = d.kv.Delete(ctx, key, jetstream.LastRevision(rev))
}
