package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/clock"
)

// SharedBucket is the JetStream key-value bucket of what every alerts
// worker must decide alike: each machine's last state from FINDINGS
// (key machine.<site>.<line>.<machine>, suppression by design) and each
// line's flood count (key flood.<site>.<line>). Every change is a
// compare-and-set on the key's revision. Only the alerts role reads or
// writes it.
const SharedBucket = "LINEWATCH_ALERTS_SHARED"

// SharedBucketConfig is SharedBucket's configuration for a cluster whose
// streams have replicas replicas.
func SharedBucketConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: SharedBucket, Description: "linewatch alerts workers' shared state: machine states, flood counts",
		History: 1, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	}
}

// OpenSharedBucket creates or opens SharedBucket.
func OpenSharedBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, SharedBucketConfig(replicas))
	if err != nil {
		return nil, fmt.Errorf("JetStream key-value bucket %s: %w", SharedBucket, err)
	}
	return kv, nil
}

func machineKey(site, line, machine string) string {
	return "machine." + Key(site+"/"+line+"/"+machine)
}

// machineRecord is a machine's last state as FINDINGS carried it.
type machineRecord struct {
	State string    `json:"state"`
	Time  time.Time `json:"time"`
	Seq   uint64    `json:"seq"` // FINDINGS stream sequence
}

// casKV is a compare-and-set loop on one key of kv: fn changes the value
// (nil when absent) and says whether to write; on a revision conflict it
// starts again from a fresh read.
func casKV(ctx context.Context, kv jetstream.KeyValue, key string, fn func(cur []byte) ([]byte, bool, error)) error {
	for attempt := 1; ; attempt++ {
		gctx, cancel := context.WithTimeout(ctx, opTimeout)
		e, err := kv.Get(gctx, key)
		cancel()
		var cur []byte
		var rev uint64
		switch {
		case err == nil:
			cur, rev = e.Value(), e.Revision()
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return fmt.Errorf("read %s: %w", key, err)
		}
		next, write, err := fn(cur)
		if err != nil || !write {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, opTimeout)
		if rev == 0 {
			_, err = kv.Create(pctx, key, next)
		} else {
			_, err = kv.Update(pctx, key, next, rev)
		}
		cancel()
		if err == nil {
			return nil
		}
		if !conflict(err) || attempt >= maxCASAttempts {
			return fmt.Errorf("write %s: %w", key, err)
		}
		if err := casBackoff.Wait(ctx, clock.Real{}, attempt); err != nil {
			return err
		}
	}
}

// applyRemoteMachineState records a machine-state change from FINDINGS
// (message seq) in SharedBucket and applies it to every alarm of the
// machine before returning, so the line's next finding, whichever worker
// takes it, sees the machine in that state. A redelivery records nothing
// new and applies the same (no-op) inputs again.
func (s *Service) applyRemoteMachineState(ctx context.Context, m analytics.MachineState, seq uint64) error {
	site := m.Site
	if site == "" {
		site = s.cfg.Site
	}
	err := casKV(ctx, s.shared, machineKey(site, m.Line, m.Machine), func(cur []byte) ([]byte, bool, error) {
		var r machineRecord
		if cur != nil {
			if err := json.Unmarshal(cur, &r); err != nil {
				s.log.Warn("alerts: bad machine record replaced", "line", m.Line, "machine", m.Machine, "err", err)
			}
		}
		if seq != 0 && seq <= r.Seq {
			return nil, false, nil // recorded before (a redelivery)
		}
		b, err := json.Marshal(machineRecord{State: m.State, Time: m.Time.UTC(), Seq: seq})
		return b, true, err
	})
	if err != nil {
		return fmt.Errorf("machine state of %s/%s: %w", m.Line, m.Machine, err)
	}
	if err := s.applyStateToAlarms(ctx, site, m); err != nil {
		return err
	}
	s.log.Debug("alerts: machine state applied", "line", m.Line, "machine", m.Machine, "state", m.State, "seq", seq)
	return nil
}

// applyStateToAlarms suppresses (or lifts the suppression of) every
// alarm of m's machine as its state m.State says, at process time m.Time.
func (s *Service) applyStateToAlarms(ctx context.Context, site string, m analytics.MachineState) error {
	ev := EvUnsuppress
	if slices.Contains(s.cfg.Alarms.SuppressWhenState, m.State) {
		ev = EvSuppress
	}
	ids, err := s.store.machineAlarms(ctx, site, m.Line, m.Machine)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, id := range ids {
		_, rec, err := s.store.apply(ctx, id, nil, []Input{{Event: ev, Role: RoleSystem, ProcessTime: m.Time}}, now)
		switch ErrorCode(err) {
		case CodeOK:
			s.indexRecord(rec)
			s.publishOutbox(ctx, id, rec.Pending)
		case CodeInternal:
			return fmt.Errorf("%s of alarm %s: %w", ev, id, err)
		}
	}
	return nil
}

// remoteMachineState is a machine's state as recorded from FINDINGS.
func (s *Service) remoteMachineState(ctx context.Context, line, machine string) (string, bool, error) {
	gctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	e, err := s.shared.Get(gctx, machineKey(s.cfg.Site, line, machine))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("machine state of %s/%s: %w", line, machine, err)
	}
	var r machineRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return "", false, nil // a bad record is as good as none; the next change replaces it
	}
	return r.State, true, nil
}

// machineAlarms lists the ids of the alarms of one machine.
func (s *Store) machineAlarms(ctx context.Context, site, line, machine string) ([]string, error) {
	lctx, cancel := context.WithTimeout(ctx, 6*opTimeout)
	defer cancel()
	kl, err := s.kv.ListKeysFiltered(lctx, Key(site+"/"+line+"/"+machine)+".>")
	if err != nil {
		return nil, fmt.Errorf("list alarms of %s/%s: %w", line, machine, err)
	}
	defer func() { _ = kl.Stop() }()
	var ids []string
	for k := range kl.Keys() {
		id, err := unKey(k)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", Bucket, err)
		}
		ids = append(ids, id)
	}
	return ids, lctx.Err()
}

// unKey is the alarm id of a bucket key (the inverse of Key).
func unKey(k string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		switch c := k[i]; c {
		case '.':
			b.WriteByte('/')
		case '=':
			if i+2 >= len(k) {
				return "", fmt.Errorf("key %q: truncated escape", k)
			}
			v, err := strconv.ParseUint(k[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("key %q: bad escape: %w", k, err)
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
