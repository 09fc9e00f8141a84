package collector

import (
	"context"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/linewatch/linewatch/simulator"
)

func TestServerRestartDataAndSubscriptionsComeBack(t *testing.T) {
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{Subscribe: true})
	rec := newRecorder()
	reg := prometheus.NewRegistry()
	c := runCollector(t, cfg, Options{Output: rec, Registerer: reg})

	rec.waitFor(t, "polled and subscribed values", func(r *recorder) bool {
		_, polled := r.last("filler", "fill_weight", 0)
		_, subscribed := r.last("filler", "stopper_rejects", 0)
		return polled && subscribed
	})
	if err := sim.Restart(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "disconnected status", func(r *recorder) bool {
		for _, s := range r.status {
			if !s.Connected {
				return true
			}
		}
		return false
	})
	rec.mu.Lock()
	mark := len(rec.samples)
	rec.mu.Unlock()
	sim.Advance(3 * time.Second) // the simulated downtime passes: the server is back

	rec.waitFor(t, "polled values and a re-created subscription after the restart", func(r *recorder) bool {
		p, polled := r.last("filler", "fill_weight", mark)
		s, subscribed := r.last("filler", "stopper_rejects", mark)
		return polled && p.Good() && subscribed && s.Good()
	})
	rec.waitFor(t, "connected status after the restart", func(r *recorder) bool {
		return r.status[len(r.status)-1].Connected
	})
	if n := counterValue(c.met.reconnects.WithLabelValues(sim.Endpoint())); n < 1 {
		t.Errorf("reconnects metric = %v, want ≥ 1", n)
	}
}

func TestReadIsChunkedToServerLimit(t *testing.T) {
	const tags, limit = 40, 7
	sim := startSim(t, simulator.Options{AllowAnonymous: true, ExtraTags: tags, MaxNodesPerRead: limit})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{ExtraTags: tags})
	rec := newRecorder()
	c := runCollector(t, cfg, Options{Output: rec})
	rec.waitFor(t, "one read with all synthetic tags", func(r *recorder) bool {
		// Samples of one read are handed over together: find a run of 40 good "load" samples.
		run := 0
		for _, s := range r.samples {
			if s.Machine == "load" && s.Good() {
				run++
				if run == tags {
					return true
				}
			} else {
				run = 0
			}
		}
		return false
	})
	calls := counterValue(c.met.readCalls.WithLabelValues("filling1", "load"))
	values := counterValue(c.met.values.WithLabelValues("filling1", "load"))
	reads := values / tags
	// ceil(40/7) = 6 Read requests per poll, from the server's advertised limit
	// (a read of 40 would be refused; one poll may be in flight while we look).
	if want := reads * 6; calls < want || calls > want+6 {
		t.Errorf("%v Read requests for %v polls; want 6 per poll (server limit %d)", calls, reads, limit)
	}
}

func TestBadNodeKeepsOthersAndItsStatus(t *testing.T) {
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{})
	if err := sim.Inject(simulator.Fault{Kind: simulator.FaultStatus, Target: "filling1.filler.fill_speed", Status: "BadSensorFailure"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject(simulator.Fault{Kind: simulator.FaultRemoveNode, Target: "filling1.filler.state"}); err != nil {
		t.Fatal(err)
	}
	sim.Advance(time.Second)
	rec := newRecorder()
	runCollector(t, cfg, Options{Output: rec})
	rec.waitFor(t, "a read with the bad, the removed and the good nodes", func(r *recorder) bool {
		_, a := r.last("filler", "fill_speed", 0)
		_, b := r.last("filler", "state", 0)
		_, c := r.last("filler", "fill_weight", 0)
		return a && b && c
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	speed, _ := rec.last("filler", "fill_speed", 0)
	state, _ := rec.last("filler", "state", 0)
	weight, _ := rec.last("filler", "fill_weight", 0)
	if ua.StatusCode(speed.Status) != ua.StatusBadSensorFailure {
		t.Errorf("fill_speed status %v, want BadSensorFailure kept", ua.StatusCode(speed.Status))
	}
	if ua.StatusCode(state.Status) != ua.StatusBadNodeIDUnknown {
		t.Errorf("removed node status %v, want BadNodeIdUnknown kept", ua.StatusCode(state.Status))
	}
	if !weight.Good() || weight.Value < 1 {
		t.Errorf("fill_weight %+v: a bad neighbour must not remove good values", weight)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func TestRefusedMonitoredItemIsRetried(t *testing.T) {
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	rec0, err := sim.InjectFault(simulator.Fault{Kind: simulator.FaultRemoveNode, Target: "filling1.filler.stopper_rejects"})
	if err != nil {
		t.Fatal(err)
	}
	sim.Advance(time.Second)
	cfg := testConfig(t, sim.Endpoint(), machineOpts{Subscribe: true})
	rec := newRecorder()
	runCollector(t, cfg, Options{Output: rec})
	rec.waitFor(t, "the refused item reported with BadNodeIdUnknown", func(r *recorder) bool {
		s, ok := r.last("filler", "stopper_rejects", 0)
		return ok && ua.StatusCode(s.Status) == ua.StatusBadNodeIDUnknown
	})
	if _, err := sim.ClearFault(rec0.Fault.ID); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "good values once the node is back", func(r *recorder) bool {
		s, ok := r.last("filler", "stopper_rejects", 0)
		return ok && s.Good()
	})
}
