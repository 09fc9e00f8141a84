package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
)

// Reader reads what the alarm service writes, for its clients (console,
// notifier, CLI, reports): alarm state from bucket LINEWATCH_ALARMS
// (Bucket, Key) and transitions from stream ALARMS, each through the one
// decoder of its message that checks the schema version (DecodeAlarm,
// DecodeTransition). It needs the operator role's permissions only.
type Reader struct {
	js jetstream.JetStream
}

// NewReader reads through js.
func NewReader(js jetstream.JetStream) *Reader { return &Reader{js: js} }

// ErrNoAlarmState: the bucket does not exist (yet): no alerts worker has
// run against this NATS.
var ErrNoAlarmState = errors.New("no alarm state: bucket " + Bucket + " does not exist (is an alerts worker running against this NATS?)")

// ErrNewerSchema: a message written by a newer alarm service than this
// reader (upgrade the reader).
var ErrNewerSchema = errors.New("schema version newer than this reader: upgrade it")

// DecodeTransition reads a transition from ALARMS (the JSON of
// Transition, version SchemaVersion; v absent reads as 1).
func DecodeTransition(b []byte) (Transition, error) {
	var t Transition
	if err := json.Unmarshal(b, &t); err != nil {
		return Transition{}, fmt.Errorf("alarm transition: %w", err)
	}
	if t.V > SchemaVersion {
		return Transition{}, fmt.Errorf("alarm transition %q v=%d (this reader knows up to %d): %w", t.ID, t.V, SchemaVersion, ErrNewerSchema)
	}
	if t.ID == "" || t.Alarm.ID == "" {
		return Transition{}, errors.New("alarm transition without id or alarm id: not a transition")
	}
	return t, nil
}

// decodeRecord reads a value of the bucket (version SchemaVersion; v
// absent reads as 1).
func decodeRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, err
	}
	if r.V > SchemaVersion {
		return record{}, fmt.Errorf("alarm %q v=%d (this reader knows up to %d): %w", r.Alarm.ID, r.V, SchemaVersion, ErrNewerSchema)
	}
	if r.Alarm.ID == "" {
		return record{}, errors.New("alarm without id")
	}
	return r, nil
}

// DecodeAlarm reads a value of bucket LINEWATCH_ALARMS: the current state
// of one alarm (the service's outbox and delayed finding are not part of
// the contract).
func DecodeAlarm(b []byte) (Alarm, error) {
	r, err := decodeRecord(b)
	return r.Alarm, err
}

func (r *Reader) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := r.js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoAlarmState
	}
	if err != nil {
		return nil, fmt.Errorf("alarm bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Get returns the current state of alarm id and its bucket revision.
func (r *Reader) Get(ctx context.Context, id string) (Alarm, uint64, error) {
	kv, err := r.bucket(ctx)
	if err != nil {
		return Alarm{}, 0, err
	}
	e, err := kv.Get(ctx, Key(id))
	if err != nil {
		return Alarm{}, 0, fmt.Errorf("alarm %s: %w", id, err)
	}
	a, err := DecodeAlarm(e.Value())
	if err != nil {
		return Alarm{}, 0, fmt.Errorf("alarm %s in bucket %s: %w", id, Bucket, err)
	}
	return a, e.Revision(), nil
}

// List returns every alarm in the bucket.
func (r *Reader) List(ctx context.Context) ([]Alarm, error) {
	kv, err := r.bucket(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := (&Store{kv: kv}).records(ctx)
	out := make([]Alarm, 0, len(recs))
	for _, rec := range recs {
		out = append(out, rec.Alarm)
	}
	return out, err
}

// AlarmUpdate is one change Watch reports.
type AlarmUpdate struct {
	Key     string // bucket key (Key of the alarm id)
	Alarm   Alarm  // the new state (zero when Deleted or Err)
	Deleted bool   // the key was deleted or purged
	// Synced marks the end of the initial values: every alarm that
	// existed when the watch started has been reported.
	Synced bool
	Err    error // an undecodable value (reported, then skipped)
}

// Watch reports every alarm in the bucket, then every change, to fn
// until ctx ends (nil) or the watch fails (the caller retries; a missing
// bucket is ErrNoAlarmState).
func (r *Reader) Watch(ctx context.Context, fn func(AlarmUpdate)) error {
	kv, err := r.bucket(ctx)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch alarm bucket %s: %w", Bucket, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch alarm bucket %s: ended", Bucket)
			case e == nil:
				fn(AlarmUpdate{Synced: true})
			case e.Operation() != jetstream.KeyValuePut:
				fn(AlarmUpdate{Key: e.Key(), Deleted: true})
			default:
				a, err := DecodeAlarm(e.Value())
				if err != nil {
					err = fmt.Errorf("key %s in bucket %s: %w", e.Key(), Bucket, err)
				}
				fn(AlarmUpdate{Key: e.Key(), Alarm: a, Err: err})
			}
		}
	}
}

// TransitionQuery selects transitions on ALARMS.
type TransitionQuery struct {
	Site, Line string // "" means every site, every line
	// Since: transitions stored from then on (by the stream's time).
	// Zero: Transitions reads from the beginning, Follow only new ones.
	Since time.Time
}

func (q TransitionQuery) consumer() jetstream.OrderedConsumerConfig {
	site, line := q.Site, q.Line
	if site == "" {
		site = "*"
	}
	if line == "" {
		line = "*"
	}
	return jetstream.OrderedConsumerConfig{
		NamePrefix:     bus.OperatorConsumerName(), // the operator role's consumers carry its prefix; unique per reader
		FilterSubjects: []string{bus.AlarmSubject(site, line, "*")},
	}
}

// Transitions reads the transitions q selects, up to the stream's last
// message at the time of the call, in order, dropping repeated ids (a
// publish retried after JetStream's duplicate window). A message that
// does not decode is an error naming its subject and sequence: a report
// built on it must not silently miss a transition.
func (r *Reader) Transitions(ctx context.Context, q TransitionQuery) ([]Transition, error) {
	cc := q.consumer()
	cfg := jetstream.ConsumerConfig{
		Name: cc.NamePrefix, AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubjects: cc.FilterSubjects,
	}
	if !q.Since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &q.Since
	}
	cons, err := r.js.CreateConsumer(ctx, bus.StreamAlarms, cfg)
	if err != nil {
		return nil, fmt.Errorf("read alarm stream %s: %w", bus.StreamAlarms, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		r.js.DeleteConsumer(dctx, bus.StreamAlarms, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	seen := map[string]bool{}
	var out []Transition
	for got := uint64(0); got < pending; {
		batch, err := cons.Fetch(int(min(pending-got, 1000)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read alarm stream %s: %w", bus.StreamAlarms, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			t, err := DecodeTransition(m.Data())
			if err != nil {
				seq := uint64(0)
				if md, merr := m.Metadata(); merr == nil {
					seq = md.Sequence.Stream
				}
				return nil, fmt.Errorf("alarm stream %s, message %d on %s: %w", bus.StreamAlarms, seq, m.Subject(), err)
			}
			if !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t)
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read alarm stream %s: %w", bus.StreamAlarms, err)
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("read alarm stream %s: no messages after %d of %d", bus.StreamAlarms, got, pending)
		}
		got += uint64(n)
	}
	return out, nil
}

// Follow passes each transition q selects to fn as it is stored, until
// ctx ends (nil); a message that does not decode is passed as an error
// and skipped. An error return means the stream could not be read (the
// caller retries).
func (r *Reader) Follow(ctx context.Context, q TransitionQuery, fn func(Transition, error)) error {
	cfg := q.consumer()
	cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	if !q.Since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &q.Since
	}
	cons, err := r.js.OrderedConsumer(ctx, bus.StreamAlarms, cfg)
	if err != nil {
		return fmt.Errorf("follow alarm stream %s: %w", bus.StreamAlarms, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		t, err := DecodeTransition(m.Data())
		if err != nil {
			err = fmt.Errorf("alarm stream %s, message on %s: %w", bus.StreamAlarms, m.Subject(), err)
		}
		fn(t, err)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if ctx.Err() == nil {
			fn(Transition{}, fmt.Errorf("follow alarm stream %s: %w", bus.StreamAlarms, err))
		}
	}))
	if err != nil {
		return fmt.Errorf("follow alarm stream %s: %w", bus.StreamAlarms, err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	return nil
}
