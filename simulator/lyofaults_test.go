package simulator

import (
	"strings"
	"testing"
	"time"
)

// The deviating freeze-dryer cycles: each fault changes the physics it
// names, only on a freeze-dryer line, and bad parameters are refused with
// the fix in the message.
func TestFreezeDryerCycleFaults(t *testing.T) {
	lyo := func(t *testing.T, f ...Fault) *Offline {
		t.Helper()
		o, err := NewOffline(&Plant{Name: "lyo", Lines: []LineSpec{{ID: "lyo1", Model: ModelFreezeDryer}}}, 1, DefaultStart)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range f {
			if _, err := o.Inject(x); err != nil {
				t.Fatal(err)
			}
		}
		return o
	}
	read := func(o *Offline, at time.Duration, tag string) (float64, string) {
		o.AdvanceTo(DefaultStart.Add(at))
		s, err := o.Read("lyo1.freezedryer."+tag, "s", "")
		if err != nil {
			t.Fatal(err)
		}
		return s.Value, s.Text
	}
	good := lyo(t)
	g30, _ := read(good, 30*time.Minute, "shelf_temp")

	slow := lyo(t, Fault{Kind: FaultShelfRamp, Target: "lyo1", Factor: 3})
	if s30, _ := read(slow, 30*time.Minute, "shelf_temp"); s30 < g30+5 {
		t.Errorf("slow ramp: shelf %.1f °C at 30 min, good cycle %.1f: want ≥ 5 °C warmer", s30, g30)
	}

	rise := lyo(t, Fault{Kind: FaultPressureRise, Target: "lyo1", Offset: 50, At: DefaultStart.Add(9 * time.Hour)})
	if p, _ := read(rise, 10*time.Hour, "chamber_pressure"); p < 135 || p > 165 {
		t.Errorf("pressure rise: %.1f µbar in primary drying, want about 150", p)
	}

	// primary drying ends at the fault and stays ended after it clears
	early := lyo(t, Fault{Kind: FaultEarlySecondary, Target: "lyo1", At: DefaultStart.Add(10 * time.Hour), Duration: Duration(time.Minute)})
	if _, ph := read(early, 10*time.Hour-time.Second, "phase"); ph != "primary_drying" {
		t.Fatalf("before the fault: phase %q", ph)
	}
	if _, ph := read(early, 10*time.Hour+time.Second, "phase"); ph != "secondary_drying" {
		t.Fatalf("at the fault: phase %q, want secondary_drying", ph)
	}
	if _, ph := read(early, 20*time.Hour, "phase"); ph != "secondary_drying" {
		t.Fatalf("after the fault cleared: phase %q, want secondary_drying (latched for the batch)", ph)
	}
	if _, ph := read(early, 33*time.Hour, "phase"); ph != "freezing" {
		t.Fatalf("next batch: phase %q, want freezing", ph)
	}
	if _, ph := read(early, 38*time.Hour, "phase"); ph != "primary_drying" {
		t.Fatalf("next batch: phase %q, want a full primary drying again", ph)
	}

	cond := lyo(t, Fault{Kind: FaultCondenserFailure, Target: "lyo1", At: DefaultStart.Add(10 * time.Hour), Duration: Duration(2 * time.Hour)})
	c, _ := read(cond, 11*time.Hour, "condenser_temp")
	p, _ := read(cond, 11*time.Hour, "chamber_pressure")
	if c < 0 || p < 150 {
		t.Errorf("condenser failure after 1 h: condenser %.1f °C, pressure %.1f µbar; want warm and raised", c, p)
	}

	o := lyo(t)
	for _, tc := range []struct {
		f    Fault
		want string
	}{
		{Fault{Kind: FaultShelfRamp, Target: "lyo1", Factor: 1}, "fault shelf_ramp on lyo1 needs factor in (0,100], not 1"},
		{Fault{Kind: FaultPressureRise, Target: "lyo1"}, "fault pressure_rise on lyo1 needs a non-zero offset (µbar)"},
		{Fault{Kind: FaultCondenserFailure}, "fault condenser_failure needs a target"},
		{Fault{Kind: FaultEarlySecondary, Target: "coldroom1"}, `fault early_secondary: target "coldroom1" is not a freeze_dryer line`},
	} {
		if _, err := o.Inject(tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.f, err, tc.want)
		}
	}
	plant := DefaultPlant()
	d, err := NewOffline(plant, 1, DefaultStart)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Inject(Fault{Kind: FaultDoorOpen, Target: "lyo1"}); err == nil || !strings.Contains(err.Error(), "is not a cold_room line") {
		t.Errorf("door_open on the freeze dryer: %v", err)
	}
}
