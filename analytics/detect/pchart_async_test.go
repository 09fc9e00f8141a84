package detect

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// asyncCounters simulates a checkweigher read once a second: each counter
// keeps the source timestamp of its last change (OPC UA semantics), so the
// reject counter's timestamp is usually older than the good counter's of
// the same read, and a re-read of an unchanged counter is not passed on
// (the engine drops samples whose timestamp is not newer). frac gives the
// true reject fraction at each second.
func asyncCounters(seed uint64, secs int, rate int, frac func(i int) float64, batch func(i int) string) (ss []sample.Sample, goods, rejects float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var good, rej float64
	var goodT, rejT time.Time
	mk := func(tag string, v float64, ts time.Time, b string) sample.Sample {
		s := smp(ts, v)
		s.Machine, s.Tag, s.Batch = "checkweigher", tag, b
		return s
	}
	for i := range secs {
		now := at(time.Duration(i) * time.Second)
		var dg, dr float64
		for range rate {
			if rng.Float64() < frac(i) {
				dr++
			} else {
				dg++
			}
		}
		b := batch(i)
		// The good counter is listed first in the read, as in the demo
		// config: the case that lost rejects before the counters were
		// treated as independent streams.
		if dg > 0 || goodT.IsZero() {
			good += dg
			goodT = now
			ss = append(ss, mk("good_count", good, goodT, b))
		}
		if dr > 0 || rejT.IsZero() {
			rej += dr
			rejT = now.Add(-time.Duration(rng.IntN(900)) * time.Millisecond) // changed between reads
			if rejT.Before(at(0)) {
				rejT = at(0)
			}
			ss = append(ss, mk("reject_count", rej, rejT, b))
		}
		if i > 0 {
			goods, rejects = goods+dg, rejects+dr
		}
	}
	return ss, goods, rejects
}

// TestPChartAsynchronousCountersLoseNothing: every increment of both
// counters is charted exactly once, whatever the order of their
// timestamps (the cause of the missed reject creep in the end-to-end test).
func TestPChartAsynchronousCountersLoseNothing(t *testing.T) {
	d, err := NewPChart(PChartParams{GoodTag: "good_count", RejectTag: "reject_count", SubgroupSpan: 10 * time.Minute, PBar: 0.005})
	if err != nil {
		t.Fatal(err)
	}
	ss, goods, rejects := asyncCounters(7, 3*3600, 10, func(int) float64 { return 0.005 }, func(int) string { return "B1" })
	var sumN, sumR float64
	for _, s := range ss {
		start := d.st.Start
		d.Update(s, nil)
		if !d.st.Start.Equal(start) && !start.IsZero() { // a subgroup was charted
			sumN, sumR = sumN+d.st.N, sumR+d.st.P*d.st.N
		}
	}
	_ = d.Flush(ss[len(ss)-1], nil)
	sumN, sumR = sumN+d.st.N, sumR+d.st.P*d.st.N
	if sumN != goods+rejects {
		t.Errorf("charted %v parts, counters gave %v", sumN, goods+rejects)
	}
	near(t, "charted rejects", sumR, rejects, 1e-6)
}

// TestPChartAsynchronousCountersCreep: with the counters' timestamps out of
// step, a reject creep (0.5 % → 2 % over an hour) signals within one
// 30-minute subgroup of the fraction passing the UCL, and 20 fault-free
// hours give no signal. Twenty seeds, so a one-in-four miss cannot pass.
func TestPChartAsynchronousCountersCreep(t *testing.T) {
	const creepAt = 4 * 3600
	creep := func(i int) float64 {
		if i < creepAt {
			return 0.005
		}
		return min(0.02, 0.005+0.015*float64(i-creepAt)/3600)
	}
	for seed := range uint64(20) {
		d, err := NewPChart(PChartParams{GoodTag: "good_count", RejectTag: "reject_count", SubgroupSpan: 30 * time.Minute, PBar: 0.005})
		if err != nil {
			t.Fatal(err)
		}
		ss, _, _ := asyncCounters(seed, creepAt+2*3600, 10, creep, func(int) string { return "B1" })
		var got []analytics.Finding
		for _, s := range ss {
			got = d.Update(s, got)
		}
		if len(got) == 0 || !got[0].Active || got[0].Rule != "upper" {
			t.Fatalf("seed %d: no upper signal on the creep: %v", seed, edges(got))
		}
		// 18 000 parts per subgroup: UCL ≈ 0.0066, passed ~6.4 min into
		// the creep; the subgroup holding it closes at most 30 min later.
		if first := got[0].Time; first.Before(at(creepAt*time.Second)) || first.After(at(creepAt*time.Second+40*time.Minute)) {
			t.Errorf("seed %d: first signal at %v, want within 40 min of the creep start %v", seed, first, at(creepAt*time.Second))
		}
	}
	for seed := range uint64(5) {
		d, _ := NewPChart(PChartParams{GoodTag: "good_count", RejectTag: "reject_count", SubgroupSpan: 30 * time.Minute, PBar: 0.005})
		ss, _, _ := asyncCounters(100+seed, 20*3600, 10, func(int) float64 { return 0.005 }, func(int) string { return "B1" })
		var got []analytics.Finding
		for _, s := range ss {
			got = d.Update(s, got)
		}
		if len(got) != 0 {
			t.Errorf("seed %d: %d findings in 20 fault-free hours, want none: %v", 100+seed, len(got), edges(got))
		}
	}
}

// TestPChartBatchChangeClosesSubgroup: a subgroup never mixes two batches;
// the last, shorter subgroup of a batch is charted with its own n.
func TestPChartBatchChangeClosesSubgroup(t *testing.T) {
	d, err := NewPChart(PChartParams{GoodTag: "good_count", RejectTag: "reject_count", SubgroupSpan: 30 * time.Minute, PBar: 0.005})
	if err != nil {
		t.Fatal(err)
	}
	// Batch B1 runs 45 min at 5 % rejects, then B2 at 0.5 % for 45 min.
	ss, _, _ := asyncCounters(3, 5400, 10, func(i int) float64 {
		if i < 2700 {
			return 0.05
		}
		return 0.005
	}, func(i int) string {
		if i < 2700 {
			return "B1"
		}
		return "B2"
	})
	var got []analytics.Finding
	checked := false
	for _, s := range ss {
		got = d.Update(s, got)
		if s.Batch == "B2" && !checked {
			checked = true
			// the first B2 value closed B1's last subgroup of 15 min
			if n := d.st.N; n < 8500 || n > 9500 || d.st.P < 0.03 {
				t.Fatalf("last B1 subgroup n = %v, p = %v: want ~9 000 parts at ~5 %%", n, d.st.P)
			}
		}
	}
	if len(got) != 2 || !got[0].Active || got[1].Active {
		t.Fatalf("findings %v, want B1 beyond the UCL, then back within in B2", edges(got))
	}
	if got[0].Batch != "B1" || got[1].Batch != "B2" {
		t.Errorf("batches %q, %q, want B1 then B2", got[0].Batch, got[1].Batch)
	}
}
