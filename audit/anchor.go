package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/internal/clock"
)

// EnsureCheckpointStream creates or updates the AUDIT_CHECKPOINTS stream:
// file storage, no age limit, delete and purge denied.
func EnsureCheckpointStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if _, err := js.CreateOrUpdateStream(ctx, CheckpointStreamConfig(replicas)); err != nil {
		return fmt.Errorf("JetStream stream %s: %w", CheckpointStream, err)
	}
	return nil
}

// CheckpointStreamConfig is the AUDIT_CHECKPOINTS stream as provisioned.
func CheckpointStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: CheckpointStream, Subjects: []string{CheckpointSubject}, Storage: jetstream.FileStorage,
		Replicas: max(replicas, 1), DenyDelete: true, DenyPurge: true,
		Description: "linewatch audit trail: signed chain heads (checkpoints)",
	}
}

// ReadCheckpoints returns every checkpoint in stream order. A message that
// is not a checkpoint is returned with an empty key id, so it fails
// verification as untrusted.
func ReadCheckpoints(ctx context.Context, js jetstream.JetStream) ([]Checkpoint, error) {
	cps, err := readAll(ctx, js, CheckpointStream, time.Time{}, func(_ uint64, data []byte) Checkpoint {
		var c Checkpoint
		if err := json.Unmarshal(data, &c); err != nil {
			return Checkpoint{Hash: "<not a checkpoint>"}
		}
		return c
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // no audit service has checkpointed yet
	}
	return cps, err
}

// CheckpointerOptions configure a Checkpointer.
type CheckpointerOptions struct {
	Key      ed25519.PrivateKey
	Interval time.Duration
	Replicas int
	// Clock stamps checkpoints and times the interval (default
	// clock.Real); tests drive a clock.Fake.
	Clock  clock.Clock
	Logger *slog.Logger
}

// Checkpointer signs the audit chain head: every Interval when the head
// moved, on request (CheckpointRequestSubject) and when Run ends.
type Checkpointer struct {
	js jetstream.JetStream
	o  CheckpointerOptions

	mu   sync.Mutex
	last *Checkpoint
}

// NewCheckpointer ensures the AUDIT and AUDIT_CHECKPOINTS streams.
func NewCheckpointer(ctx context.Context, js jetstream.JetStream, o CheckpointerOptions) (*Checkpointer, error) {
	if len(o.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("audit checkpointer: no Ed25519 key (audit.key_file)")
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := EnsureStream(ctx, js, o.Replicas); err != nil {
		return nil, err
	}
	if err := EnsureCheckpointStream(ctx, js, o.Replicas); err != nil {
		return nil, err
	}
	return &Checkpointer{js: js, o: o}, nil
}

// Checkpoint signs and stores the head now, unless the last checkpoint of
// this process already covers it (then that one is returned). An empty
// trail has no checkpoint (ok false).
func (c *Checkpointer) Checkpoint(ctx context.Context) (cp Checkpoint, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	head, err := Head(ctx, c.js)
	if err != nil || head == nil {
		return Checkpoint{}, false, err
	}
	if c.last != nil && c.last.Seq == head.Seq && c.last.Hash == head.Hash {
		return *c.last, true, nil
	}
	// The head as stored must itself be intact: never sign a broken entry.
	if head.ComputeHash() != head.Hash {
		return Checkpoint{}, false, fmt.Errorf("audit head seq %d does not match its hash: not signing it", head.Seq)
	}
	cp = SignCheckpoint(c.o.Key, head.Seq, head.Hash, c.o.Clock.Now())
	data, _ := json.Marshal(cp)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.js.Publish(pctx, CheckpointSubject, data, jetstream.WithExpectStream(CheckpointStream)); err != nil {
		return Checkpoint{}, false, fmt.Errorf("store audit checkpoint of seq %d: %w", head.Seq, err)
	}
	c.last = &cp
	return cp, true, nil
}

// checkpointReply is the answer on CheckpointRequestSubject.
type checkpointReply struct {
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	Error      string      `json:"error,omitempty"`
}

// Run checkpoints every Interval and serves CheckpointRequestSubject until
// ctx ends, then signs the head a last time.
func (c *Checkpointer) Run(ctx context.Context) error {
	sub, err := c.js.Conn().QueueSubscribe(CheckpointRequestSubject, "linewatch-audit", func(m *nats.Msg) {
		var rep checkpointReply
		cp, ok, err := c.Checkpoint(ctx)
		switch {
		case err != nil:
			rep.Error = err.Error()
		case !ok:
			rep.Error = "the audit trail is empty"
		default:
			rep.Checkpoint = &cp
		}
		data, _ := json.Marshal(rep)
		m.Respond(data)
	})
	if err != nil {
		return fmt.Errorf("audit checkpoints: subscribe %s: %w", CheckpointRequestSubject, err)
	}
	defer sub.Unsubscribe()
	for {
		tick, stop := c.o.Clock.After(c.o.Interval)
		select {
		case <-ctx.Done():
			stop()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, _, err := c.Checkpoint(fctx); err != nil {
				c.o.Logger.Error("audit checkpoint at shutdown failed", "err", err)
			}
			return nil
		case <-tick:
			if _, _, err := c.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				c.o.Logger.Error("audit checkpoint failed", "err", err)
			}
		}
	}
}

// RequestCheckpoint asks the running audit service to sign the head now.
func RequestCheckpoint(ctx context.Context, nc *nats.Conn) (Checkpoint, error) {
	m, err := nc.RequestWithContext(ctx, CheckpointRequestSubject, nil)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("request an audit checkpoint (is the alerts role running?): %w", err)
	}
	var rep checkpointReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint reply: %w", err)
	}
	if rep.Checkpoint == nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint refused: %s", rep.Error)
	}
	return *rep.Checkpoint, nil
}
