package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/linewatch/linewatch/sample"
)

// The cached path (series runs, then the map) writes exactly what the
// strict Encoder writes, whatever changes between slices: a batch change
// in the middle, tags reordered, removed or added, a text value, a slice
// starting with another series.
func TestLineBuilderRunsMatchEncoder(t *testing.T) {
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	mk := func(n int, batch string) []sample.Sample {
		var ss []sample.Sample
		for i := range n {
			ss = append(ss, sample.Sample{Time: now.Add(time.Duration(i) * time.Millisecond), Site: "plant-a", Line: "line1", Machine: "filler",
				Tag: fmt.Sprintf("tag %d", i), Unit: "g", Value: float64(i) + 0.5, Batch: batch})
		}
		return ss
	}
	base := mk(6, "B-1")
	changed := mk(6, "B-1")
	for i := 3; i < 6; i++ {
		changed[i].Batch = "B-2"
	}
	reordered := append([]sample.Sample{base[2]}, base[0], base[1], base[4], base[3])
	withText := mk(6, "B-1")
	withText[2].Text = "running"
	grown := mk(9, "B-1")
	bad := mk(3, "B-1")
	bad[1].Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) // out of line protocol's range

	var lb lineBuilder
	for step, ss := range [][]sample.Sample{base, base, changed, changed, reordered, base, withText, base, grown, base[3:], bad, bad, base} {
		lb.buf = lb.buf[:0]
		var want lineprotocol.Encoder
		lb.startRun(&ss[0])
		for i := range ss {
			gotErr := lb.sample(&ss[i], now)
			wantErr := appendSample(&want, &ss[i], now)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("step %d sample %d: error %v, Encoder's %v", step, i, gotErr, wantErr)
			}
		}
		lb.endRun()
		if string(lb.buf) != string(want.Bytes()) {
			t.Fatalf("step %d: wrote\n%s\nthe Encoder writes\n%s", step, lb.buf, want.Bytes())
		}
	}
	// Runs start at tag 0, tag 2 (reordered) and tag 3 (base[3:]); every
	// slice starting at tag 0 of batch B-1 shares one run.
	if len(lb.runs) != 3 {
		t.Errorf("%d runs, want 3", len(lb.runs))
	}
}
