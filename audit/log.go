package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// Stream layout.
const (
	Stream   = "AUDIT"
	Subjects = "linewatch.audit.>"
	Subject  = "linewatch.audit.entries"
)

// Options configures a Log.
type Options struct {
	Replicas int
	// Now is the clock for entries without a time (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Log is the audit trail in JetStream. It is safe for concurrent use, also
// by several processes: the chain cannot fork because every append expects
// the stream's last sequence.
type Log struct {
	js  jetstream.JetStream
	now func() time.Time
	log *slog.Logger

	mu   sync.Mutex
	last *Entry // nil: unknown, reload before appending
	// loaded says last is known (nil last with loaded = empty stream).
	loaded bool
}

// EnsureStream creates or updates the AUDIT stream: file storage, no age
// limit, delete and purge denied.
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if _, err := js.CreateOrUpdateStream(ctx, StreamConfig(replicas)); err != nil {
		return fmt.Errorf("JetStream stream %s: %w", Stream, err)
	}
	return nil
}

// StreamConfig is the AUDIT stream as provisioned.
func StreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: Stream, Subjects: []string{Subjects}, Storage: jetstream.FileStorage,
		Replicas: max(replicas, 1), DenyDelete: true, DenyPurge: true, Duplicates: 2 * time.Minute,
		Description: "linewatch audit trail: hash-chained, append-only (21 CFR 11.10(e), Annex 11 §9)",
	}
}

// Open ensures the AUDIT stream and returns its Log.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Log, error) {
	if err := EnsureStream(ctx, js, o.Replicas); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Log{js: js, now: o.Now, log: o.Logger}, nil
}

const maxAppendAttempts = 20

// appendRetry spaces appends that lost the race for the chain head (or
// their ack); real time, since the other appenders are other processes.
var appendRetry = backoff.Policy{Min: 5 * time.Millisecond, Max: 200 * time.Millisecond}

// Append seals e after the current last entry and stores it. Seq, Prev and
// Hash are set by Append; Time defaults to now. When another appender got
// there first it re-reads the last entry and tries again.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if e.Actor == "" || e.Action == "" {
		return Entry{}, fmt.Errorf("audit entry needs actor and action (got actor %q, action %q)", e.Actor, e.Action)
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for attempt := 1; ; attempt++ {
		if !l.loaded {
			last, err := l.lastEntry(ctx)
			if err != nil {
				return Entry{}, err
			}
			l.last, l.loaded = last, true
		}
		sealed := e.Seal(l.last)
		if l.last != nil && sealed.Time.Before(l.last.Time) {
			// Clocks of several appenders differ slightly; the chain keeps time order.
			e.Time = l.last.Time
			sealed = e.Seal(l.last)
		}
		data, err := json.Marshal(sealed)
		if err != nil {
			return Entry{}, err
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = l.js.Publish(pctx, Subject, data,
			jetstream.WithExpectStream(Stream),
			jetstream.WithExpectLastSequence(sealed.Seq-1),
			jetstream.WithMsgID("audit-"+sealed.Hash))
		cancel()
		if err == nil {
			l.last = &sealed
			return sealed, nil
		}
		l.loaded = false
		if !wrongLastSequence(err) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoStreamResponse) {
			return Entry{}, fmt.Errorf("append audit entry %s %s: %w", e.Action, e.Object, err)
		}
		if attempt >= maxAppendAttempts {
			return Entry{}, fmt.Errorf("append audit entry %s %s: gave up after %d attempts: %w", e.Action, e.Object, attempt, err)
		}
		// Our publish may have been stored although the ack was lost.
		if last, lerr := l.lastEntry(ctx); lerr == nil && last != nil && last.Hash == sealed.Hash {
			l.last, l.loaded = last, true
			return *last, nil
		}
		if err := appendRetry.Wait(ctx, clock.Real{}, attempt); err != nil {
			return Entry{}, fmt.Errorf("append audit entry %s %s: %w", e.Action, e.Object, err)
		}
	}
}

// ErrHeadMoved is returned by AppendAfter when another entry was appended
// after prev: re-read and decide again.
var ErrHeadMoved = errors.New("the audit trail moved on: another entry was appended")

// AppendAfter appends e only if prev (nil: none) is still the last entry,
// so that a decision taken on the trail up to prev (e.g. "this person has
// not signed this report yet") holds when e is stored, across processes.
func (l *Log) AppendAfter(ctx context.Context, e Entry, prev *Entry) (Entry, error) {
	if e.Actor == "" || e.Action == "" {
		return Entry{}, fmt.Errorf("audit entry needs actor and action (got actor %q, action %q)", e.Actor, e.Action)
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if prev != nil && e.Time.Before(prev.Time) {
		e.Time = prev.Time
	}
	sealed := e.Seal(prev)
	data, err := json.Marshal(sealed)
	if err != nil {
		return Entry{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = l.js.Publish(pctx, Subject, data, jetstream.WithExpectStream(Stream),
		jetstream.WithExpectLastSequence(sealed.Seq-1), jetstream.WithMsgID("audit-"+sealed.Hash))
	l.loaded = false
	if wrongLastSequence(err) {
		return Entry{}, ErrHeadMoved
	}
	if err != nil {
		return Entry{}, fmt.Errorf("append audit entry %s %s: %w", e.Action, e.Object, err)
	}
	return sealed, nil
}

// Head returns the last entry (nil: empty trail).
func (l *Log) Head(ctx context.Context) (*Entry, error) { return Head(ctx, l.js) }

func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func (l *Log) lastEntry(ctx context.Context) (*Entry, error) { return Head(ctx, l.js) }

// Head returns the last entry of the AUDIT stream (nil: empty).
func Head(ctx context.Context, js jetstream.JetStream) (*Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, Stream)
	if err != nil {
		return nil, fmt.Errorf("audit stream %s: %w", Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit stream %s info: %w", Stream, err)
	}
	if info.State.LastSeq == 0 {
		return nil, nil
	}
	m, err := s.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return nil, fmt.Errorf("audit entry %d: %w", info.State.LastSeq, err)
	}
	var e Entry
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return nil, fmt.Errorf("audit entry %d is not an entry: %w", info.State.LastSeq, err)
	}
	return &e, nil
}

// All returns every entry in stream order, for verification.
func (l *Log) All(ctx context.Context) ([]Entry, error) {
	return ReadStream(ctx, l.js, time.Time{})
}

// Range returns the entries with since ≤ Time < until (zero until: no end).
func (l *Log) Range(ctx context.Context, since, until time.Time) ([]Entry, error) {
	return ReadRange(ctx, l.js, since, until)
}

// ReadRange reads the entries with since ≤ Time < until (zero until: no
// end) without changing the stream (for read-only tools).
func ReadRange(ctx context.Context, js jetstream.JetStream, since, until time.Time) ([]Entry, error) {
	// Stored time is at or after the entry time; start a minute early.
	start := since
	if !start.IsZero() {
		start = start.Add(-time.Minute)
	}
	all, err := ReadStream(ctx, js, start)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if !e.Time.Before(since) && (until.IsZero() || e.Time.Before(until)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Verify checks entries (see the package function Verify).
func (l *Log) Verify(entries []Entry) error { return Verify(entries) }

// ReadStream reads the AUDIT stream from start (zero: the beginning) up to
// its last message at the time of the call. A message that is not an Entry
// is returned as an Entry whose Hash is empty, so Verify names its seq.
func ReadStream(ctx context.Context, js jetstream.JetStream, start time.Time) ([]Entry, error) {
	return readAll(ctx, js, Stream, start, func(seq uint64, data []byte) Entry {
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			e = Entry{Seq: seq, Action: "<not an audit entry>"}
		}
		return e
	})
}

// readAll reads a stream from start (zero: the beginning) up to its last
// message at the time of the call, decoding each message.
func readAll[T any](ctx context.Context, js jetstream.JetStream, stream string, start time.Time, decode func(seq uint64, data []byte) T) ([]T, error) {
	cfg := jetstream.ConsumerConfig{
		Name:      bus.OperatorConsumerName(), // readers' consumers carry the operator prefix
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if !start.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.CreateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	out := make([]T, 0, pending)
	for uint64(len(out)) < pending {
		batch, err := cons.Fetch(int(min(pending-uint64(len(out)), 1000)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var seq uint64
			if md, _ := m.Metadata(); md != nil {
				seq = md.Sequence.Stream
			}
			out = append(out, decode(seq, m.Data()))
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("read stream %s: no messages after %d of %d", stream, len(out), pending)
		}
	}
	return out, nil
}

// ConfigLoaded is the entry for a configuration being loaded: the object is
// the file, New the SHA-256 of its bytes.
func ConfigLoaded(actor, file, sha256hex string) Entry {
	return Entry{Actor: actor, Action: ActionConfigLoaded, Object: file, New: "sha256:" + sha256hex}
}
