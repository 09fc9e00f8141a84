package detect

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
)

func TestStaleOnMachineClock(t *testing.T) {
	d, err := NewStale(StaleParams{After: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var got []analytics.Finding
	// The probe reports every second for 10 minutes, then freezes at 4.2
	// (re-reads keep the 10-minute timestamp) while the machine's other
	// tags go on; it recovers at 20 minutes.
	var prev time.Time
	for i := range 1200 {
		now := at(time.Duration(i) * time.Second)
		if i <= 600 || i >= 1200-1 {
			s := smp(now, 4.2+float64(i%7)/100)
			s.Machine, s.Tag = "coldroom", "temp_probe1"
			got = d.Update(s, got)
		}
		got = d.Observe(prev, now, got)
		prev = now
	}
	if len(got) != 2 {
		t.Fatalf("findings %v, want stale then fresh", edges(got))
	}
	on, off := got[0], got[1]
	if !on.Active || on.Rule != "stale" || on.Tag != "temp_probe1" || !on.Time.Equal(at(15*time.Minute)) {
		t.Errorf("start %+v, want active at 15 min (frozen at 10 min + 5 min)", on)
	}
	if on.Statistic != 300 || on.Limit != 300 {
		t.Errorf("age %v limit %v, want 300 s and 300 s", on.Statistic, on.Limit)
	}
	if off.Active || !off.Time.Equal(at(1199*time.Second)) {
		t.Errorf("end %+v, want inactive at the first new value", off)
	}
	// a re-read with the frozen timestamp neither ends nor restarts it
	d2, _ := NewStale(StaleParams{After: time.Minute})
	s := smp(at(0), 1)
	got = d2.Update(s, nil)
	for i := range 120 {
		got = d2.Observe(at(time.Duration(i)*time.Second), at(time.Duration(i+1)*time.Second), got)
	}
	got = d2.Update(s, got)
	if len(got) != 1 || !got[0].Active {
		t.Errorf("re-read of the frozen value: %v, want only the start", edges(got))
	}
	// snapshot and restore keep the active state: no second start
	b, err := d2.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	d3, _ := NewStale(StaleParams{After: time.Minute})
	if err := d3.Restore(b); err != nil {
		t.Fatal(err)
	}
	if f := d3.Observe(at(2*time.Minute), at(3*time.Minute), nil); len(f) != 0 {
		t.Errorf("restored active detector raised again: %v", edges(f))
	}
	// a gap in the whole machine's data (server down 10 min) does not age it
	d4, _ := NewStale(StaleParams{After: 5 * time.Minute})
	got = d4.Update(smp(at(0), 1), nil)
	got = d4.Observe(at(0), at(10*time.Minute), got)
	got = d4.Observe(at(10*time.Minute), at(10*time.Minute+time.Second), got)
	if len(got) != 0 {
		t.Errorf("machine gap made the tag stale: %v", edges(got))
	}
	if _, err := NewStale(StaleParams{}); err == nil {
		t.Error("after 0 accepted")
	}
}
