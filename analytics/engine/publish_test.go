package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
)

// One telemetry message of the filler holds the last sample of a batch
// (its capability finding, 06:19:59) and the first poll of the next,
// which reports CIP and from which a drift finding comes (06:20:00). The
// engine sees the state change before the drift finding and after the
// batch-end finding; on FINDINGS they must be in process-time order:
// the batch-end finding before CIP (it is not suppressed by it), CIP
// before the drift finding of its own poll (it is). Before, every state
// went first.
func TestPublisherProcessOrderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	_, js := testenv.NATSConn(t)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 6, 19, 59, 0, time.UTC)
	find := func(det string, at time.Time) analytics.Finding {
		return analytics.Finding{Time: at, Line: "filling1", Machine: "filler", Tag: "fill_weight", Detector: det, Active: true}
	}
	p := &Publisher{JS: js, Site: "plant"}
	p.MachineState(analytics.MachineState{Time: t0.Add(time.Second), Line: "filling1", Machine: "filler", State: "cip"})
	p.MachineState(analytics.MachineState{Time: t0.Add(2 * time.Second), Line: "filling1", Machine: "filler", State: "stopped"})
	fs := []analytics.Finding{find("cpk", t0), find("ewma", t0.Add(time.Second)), find("cusum", t0.Add(3*time.Second))}
	if err := p.Notify(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if p.Pending() {
		t.Fatal("machine states still queued after Notify")
	}
	want := []string{"finding cpk", "state cip", "finding ewma", "state stopped", "finding cusum"}
	got := readFindings(t, js, len(want))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("FINDINGS order\n got %v\nwant %v", got, want)
	}
}

// A publish failure keeps the unpublished states queued, and a retry
// puts everything on FINDINGS once, still in process-time order.
func TestPublisherRetryKeepsOrderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	_, js := testenv.NATSConn(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	p := &Publisher{JS: js, Site: "plant"}
	if err := js.DeleteStream(ctx, bus.StreamFindings); err != nil {
		t.Fatal(err)
	}
	p.MachineState(analytics.MachineState{Time: t0.Add(time.Second), Line: "filling1", Machine: "filler", State: "cip"})
	fs := []analytics.Finding{{Time: t0, Line: "filling1", Machine: "filler", Tag: "fill_weight", Detector: "cpk", Active: true}}
	if err := p.Notify(ctx, fs); err == nil {
		t.Fatal("Notify without the FINDINGS stream succeeded")
	}
	if !p.Pending() {
		t.Fatal("the machine state was dropped on a failed publish")
	}
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Notify(ctx, fs); err != nil {
		t.Fatal(err)
	}
	want := []string{"finding cpk", "state cip"}
	if got := readFindings(t, js, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("FINDINGS order\n got %v\nwant %v", got, want)
	}
}

// readFindings reads the first n messages of FINDINGS as "finding
// <detector>" or "state <state>".
func readFindings(t *testing.T, js jetstream.JetStream, n int) []string {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, bus.StreamFindings, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for len(out) < n {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("after %v: %v", out, err)
		}
		msg, err := analytics.DecodeMessage(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if msg.Finding != nil {
			out = append(out, "finding "+msg.Finding.Detector)
		} else {
			out = append(out, "state "+msg.MachineState.State)
		}
	}
	return out
}
