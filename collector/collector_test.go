package collector

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

func TestPollNoneAnonymousToSinksAndNATS(t *testing.T) {
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{})
	_, js := testenv.NATSConn(t)
	rec := newRecorder()
	rec.also = startPublisher(t, js).p
	c := runCollector(t, cfg, Options{Output: rec})
	if len(c.conns) != 1 || len(c.conns[0].machines) != 2 {
		t.Errorf("filler and checkweigher on one endpoint must share one session; have %d sessions", len(c.conns))
	}

	rec.waitFor(t, "a good value of every polled tag", func(r *recorder) bool {
		for _, tag := range []string{"fill_weight", "fill_speed", "state", "batch_id", "product_code"} {
			if s, ok := r.last("filler", tag, 0); !ok || !s.Good() {
				return false
			}
		}
		// The checkweigher may be read before the filler's batch tag is known;
		// once it is, its samples carry the batch too.
		s, ok := r.last("checkweigher", "good_count", 0)
		return ok && s.Good() && s.Batch != ""
	})
	rec.mu.Lock()
	fw, _ := rec.last("filler", "fill_weight", 0)
	bid, _ := rec.last("filler", "batch_id", 0)
	gc, _ := rec.last("checkweigher", "good_count", 0)
	st := append([]sample.MachineStatus(nil), rec.status...)
	rec.mu.Unlock()
	if fw.Value < 1 || fw.Value > 3 || fw.Unit != "g" || fw.Site != "testsite" || fw.Line != "filling1" {
		t.Errorf("fill_weight sample %+v: want a vial fill weight near 2 g", fw)
	}
	if bid.Text == "" || fw.Batch != bid.Text || gc.Batch != bid.Text {
		t.Errorf("batch context: batch_id %q, fill_weight.Batch %q, good_count.Batch %q", bid.Text, fw.Batch, gc.Batch)
	}
	// The simulator's manual clock sets the source timestamp; it must be kept, not replaced by receive time.
	if fw.Time.After(sim.Now()) || fw.Time.Before(sim.Now().Add(-time.Hour)) {
		t.Errorf("sample time %s is not the source timestamp (simulated now %s)", fw.Time, sim.Now())
	}
	if len(st) == 0 || !st[0].Connected || st[0].Machine == "" {
		t.Errorf("status = %+v, want connected", st)
	}
	rec.waitFor(t, "batch start event", func(r *recorder) bool { return len(r.batches) > 0 })
	rec.mu.Lock()
	ev := rec.batches[0]
	rec.mu.Unlock()
	if ev.Event != sample.BatchStart || ev.Batch != bid.Text || ev.Line != "filling1" || ev.Product == "" || ev.V != sample.BatchEventVersion {
		t.Errorf("batch event %+v", ev)
	}

	// Telemetry on JetStream decodes as the documented schema.
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, bus.StreamTelemetry, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.TelemetrySubject("testsite", "filling1", "filler")}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(deadline))
	if err != nil {
		t.Fatalf("no telemetry on NATS: %v", err)
	}
	b, err := sample.Unmarshal(msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	if b.Machine != "filler" || len(b.Values) != 5 || msg.Headers().Get(jetstream.MsgIDHeader) == "" {
		t.Errorf("telemetry message %+v headers %v", b, msg.Headers())
	}
	bc, err := js.OrderedConsumer(ctx, bus.StreamBatches, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	bm, err := bc.Next(jetstream.FetchMaxWait(deadline))
	if err != nil {
		t.Fatalf("no batch event on NATS: %v", err)
	}
	got, err := sample.UnmarshalBatchEvent(bm.Data())
	if err != nil || got.Batch != bid.Text || bm.Subject() != bus.BatchSubject("testsite", "filling1") {
		t.Errorf("batch event on NATS %+v (%v) subject %s", got, err, bm.Subject())
	}
}
