package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// Bucket is the JetStream key-value bucket holding the current state of
// every alarm (key: Key of the alarm id; value: DecodeAlarm). Readers use
// Reader.
const Bucket = bus.BucketAlarms

// record is the value stored per alarm: the Alarm JSON itself (so readers
// such as the console decode the value as an Alarm and ignore the rest),
// plus the outbox — transitions applied but not yet confirmed published on
// ALARMS — and a finding waiting for its on/off-delay.
type record struct {
	Alarm
	V       int          `json:"v"`
	Pending []Transition `json:"pending,omitempty"`
	// Delayed is a finding waiting for its on-delay or off-delay (until DelayedDue).
	Delayed    *analytics.Finding `json:"delayed,omitempty"`
	DelayedDue time.Time          `json:"delayed_due,omitzero"`
	// FindingSeq is the stream FINDINGS sequence of the last finding that
	// changed this record: a redelivered message is recognised exactly.
	FindingSeq uint64 `json:"finding_seq,omitempty"`

	rev uint64 // bucket revision this record was read or written at
}

// Store keeps alarm state in the bucket; every change is a compare-and-set
// on the key's revision, so concurrent workers never both apply an input.
type Store struct {
	kv     jetstream.KeyValue
	policy Policy
}

// BucketConfig is the alarm state bucket as provisioned.
func BucketConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "linewatch alarm state (ISA-18.2), key = alarm id",
		History: 1, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	}
}

// OpenStore creates or opens the bucket.
func OpenStore(ctx context.Context, js jetstream.JetStream, replicas int, p Policy) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(replicas))
	if err != nil {
		return nil, fmt.Errorf("JetStream key-value bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv, policy: p}, nil
}

// Key maps an alarm id to its bucket key: '/' becomes '.', so keys are
// subject tokens (watchable per site.line.>); any byte outside
// [A-Za-z0-9_-] — including '.' itself — is escaped as =XX.
func Key(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c == '/':
			b.WriteByte('.')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

// Get returns the alarm with id and its revision.
func (s *Store) Get(ctx context.Context, id string) (Alarm, uint64, error) {
	r, rev, err := s.get(ctx, id)
	return r.Alarm, rev, err
}

// opTimeout bounds one NATS request: a request in flight while the server
// restarts gets no answer, and the caller retries.
const opTimeout = 5 * time.Second

func (s *Store) get(ctx context.Context, id string) (record, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	e, err := s.kv.Get(ctx, Key(id))
	if err != nil {
		return record{}, 0, err
	}
	r, err := decodeRecord(e.Value())
	if err != nil {
		return record{}, 0, fmt.Errorf("alarm %s in bucket %s: %w", id, Bucket, err)
	}
	r.rev = e.Revision()
	return r, e.Revision(), nil
}

// List returns every alarm in the bucket.
func (s *Store) List(ctx context.Context) ([]Alarm, error) {
	recs, err := s.records(ctx)
	out := make([]Alarm, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Alarm)
	}
	return out, err
}

func (s *Store) records(ctx context.Context) ([]record, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list bucket %s: %w", Bucket, err)
	}
	defer w.Stop()
	var out []record
	for {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return out, nil
			}
			if e == nil { // end of the initial values
				return out, nil
			}
			r, err := decodeRecord(e.Value())
			if err != nil {
				return out, fmt.Errorf("key %s in bucket %s: %w", e.Key(), Bucket, err)
			}
			r.rev = e.Revision()
			out = append(out, r)
		}
	}
}

const maxCASAttempts = 50

// errUnknownAlarm is returned (as an *Error) when an operator names an alarm
// that does not exist.
func unknownAlarm(id string) *Error {
	return refuse(CodeUnknownAlarm, "no alarm %q (alarm ids are site/line/machine/tag/detector[/rule]; see linewatch alarms list)", id)
}

// apply applies inputs in order to the alarm with id (created by init when
// absent; init nil means it must exist) in one compare-and-set. A
// CodeNoChange of any input but the last is skipped. It returns the new
// transitions and the stored record, whose Pending is the whole outbox
// (older unpublished transitions first). On a revision conflict it
// re-reads and re-applies, so of two workers applying the same input only
// one succeeds.
func (s *Store) apply(ctx context.Context, id string, init func() Alarm, inputs []Input, now time.Time) ([]Transition, record, error) {
	return s.update(ctx, id, init, func(r *record) ([]Transition, bool, error) {
		trs, err := s.applyInputs(r, inputs, now)
		return trs, len(trs) > 0, err
	})
}

func (s *Store) applyInputs(r *record, inputs []Input, now time.Time) ([]Transition, error) {
	var trs []Transition
	for i, in := range inputs {
		na, tr, err := Apply(r.Alarm, in, now, s.policy)
		if err != nil {
			if ErrorCode(err) == CodeNoChange && i < len(inputs)-1 {
				continue
			}
			if len(trs) == 0 {
				return nil, err
			}
			break
		}
		r.Alarm = na
		trs = append(trs, tr)
	}
	return trs, nil
}

// applyFinding applies pre (suppression inputs) and then finding f with an
// ISA-18.2 on-delay (activation) or off-delay (clear): a delayed finding is
// stored in the record and fired by fireDelayed once due; a finding of the
// opposite direction before that cancels it (the condition did not last).
// Delayed findings live in the bucket, so a restart loses none.
//
// seq is f's FINDINGS stream sequence (0: not from FINDINGS): a seq not
// above the record's FindingSeq is a redelivery (CodeRedelivered, nothing
// changes); a finding older than the last applied is CodeSuperseded.
func (s *Store) applyFinding(ctx context.Context, id string, init func() Alarm, pre []Input, f analytics.Finding, seq uint64, delay time.Duration, now time.Time) ([]Transition, record, error) {
	return s.update(ctx, id, init, func(r *record) ([]Transition, bool, error) {
		if seq != 0 && seq <= r.FindingSeq {
			return nil, false, refuse(CodeRedelivered, "finding %s (FINDINGS sequence %d) already applied to %s (at sequence %d)", f.ID, seq, id, r.FindingSeq)
		}
		trs, _ := s.applyInputs(r, pre, now) // suppression changes refused as no-ops are fine
		changed := len(trs) > 0
		a := r.Alarm
		if seq != 0 {
			// Recorded whenever the record is written for this finding.
			defer func() { r.FindingSeq = max(r.FindingSeq, seq) }()
		}
		switch {
		case f.ID == a.LastFinding || (r.Delayed != nil && f.ID == r.Delayed.ID):
			return trs, changed, orNil(changed, refuse(CodeDuplicate, "finding %s already applied to %s", f.ID, id))
		case !a.LastFindingAt.IsZero() && f.Time.Before(a.LastFindingAt):
			// Recorded as superseded (the sequence is written), so a
			// redelivery of it is counted once.
			return trs, changed || seq != 0, refuse(CodeSuperseded, "finding %s at %s is older than the last one applied to %s (%s)", f.ID, f.Time.Format(time.RFC3339Nano), id, a.LastFindingAt.Format(time.RFC3339Nano))
		case r.Delayed != nil && r.Delayed.Active != f.Active:
			// The condition reversed within the delay: neither is annunciated.
			r.Delayed, r.DelayedDue = nil, time.Time{}
			r.Alarm.LastFinding, r.Alarm.LastFindingAt = f.ID, f.Time // replays of either are now stale
			return trs, true, nil
		case r.Delayed != nil:
			return trs, changed, orNil(changed, refuse(CodeNoChange, "finding %s: an earlier one is already waiting for its delay", f.ID))
		case delay > 0 && f.Active != a.Active:
			r.Delayed, r.DelayedDue = &f, f.Time.Add(delay)
			return trs, true, nil
		}
		more, err := s.applyInputs(r, []Input{FindingInput(f)}, now)
		trs = append(trs, more...)
		if err != nil && changed {
			err = nil
		}
		return trs, len(trs) > 0, err
	})
}

func orNil(changed bool, err error) error {
	if changed {
		return nil
	}
	return err
}

// fireDelayed applies the alarm's delayed finding when it is due at now.
func (s *Store) fireDelayed(ctx context.Context, id string, now time.Time) ([]Transition, record, error) {
	return s.update(ctx, id, nil, func(r *record) ([]Transition, bool, error) {
		if r.Delayed == nil || now.Before(r.DelayedDue) {
			return nil, false, refuse(CodeNoChange, "alarm %s has no due delayed finding", id)
		}
		f := *r.Delayed
		r.Delayed, r.DelayedDue = nil, time.Time{}
		trs, err := s.applyInputs(r, []Input{FindingInput(f)}, now)
		return trs, true, orNil(true, err) // a stale delayed finding is simply dropped
	})
}

// update is the compare-and-set loop: read (or init), let fn change the
// record and say whether it did, write with the read revision; on conflict
// start again from a fresh read.
func (s *Store) update(ctx context.Context, id string, init func() Alarm, fn func(*record) ([]Transition, bool, error)) ([]Transition, record, error) {
	for attempt := 1; ; attempt++ {
		r, rev, err := s.get(ctx, id)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if init == nil {
				return nil, record{}, unknownAlarm(id)
			}
			r, rev = record{Alarm: init(), V: SchemaVersion}, 0
		case err != nil:
			return nil, record{}, fmt.Errorf("read alarm %s: %w", id, err)
		}
		// fn may refuse and still change the record (a superseded
		// finding records its sequence): the record is written and the
		// refusal returned with it.
		trs, changed, ferr := fn(&r)
		if ferr != nil && !changed {
			return nil, r, ferr // r as read: its outbox may still wait
		}
		if !changed {
			return nil, r, nil
		}
		r.V, r.Pending = SchemaVersion, append(r.Pending, trs...)
		data, err := json.Marshal(r)
		if err != nil {
			return nil, record{}, err
		}
		r.rev, err = s.put(ctx, id, data, rev)
		if err == nil {
			return trs, r, ferr
		}
		if !conflict(err) {
			return nil, record{}, fmt.Errorf("store alarm %s: %w", id, err)
		}
		if attempt >= maxCASAttempts {
			return nil, record{}, fmt.Errorf("store alarm %s: %d revision conflicts in a row: %w", id, attempt, err)
		}
		if err := casBackoff.Wait(ctx, clock.Real{}, attempt); err != nil {
			return nil, record{}, err
		}
	}
}

// put creates (rev 0) or compare-and-sets the record.
func (s *Store) put(ctx context.Context, id string, data []byte, rev uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if rev == 0 {
		return s.kv.Create(ctx, Key(id), data)
	}
	return s.kv.Update(ctx, Key(id), data, rev)
}

func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// casBackoff spreads CAS retries: a short, jittered, growing delay
// (n ms to 2n ms before retry n, at most 10–20 ms), on real time since
// the contenders are other processes.
var casBackoff = backoff.Policy{Min: 2 * time.Millisecond, Max: 20 * time.Millisecond, Linear: true, Jitter: true}

// markPublished drops the outbox entries up to and including seq.
func (s *Store) markPublished(ctx context.Context, id string, seq uint64) error {
	for attempt := 1; ; attempt++ {
		r, rev, err := s.get(ctx, id)
		if err != nil {
			return fmt.Errorf("read alarm %s: %w", id, err)
		}
		keep := r.Pending[:0]
		for _, t := range r.Pending {
			if t.Seq > seq {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(r.Pending) {
			return nil
		}
		r.Pending = keep
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err = s.put(ctx, id, data, rev); err == nil {
			return nil
		} else if !conflict(err) || attempt >= maxCASAttempts {
			return fmt.Errorf("mark alarm %s published up to %d: %w", id, seq, err)
		}
		if err := casBackoff.Wait(ctx, clock.Real{}, attempt); err != nil {
			return err
		}
	}
}
