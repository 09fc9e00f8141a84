package batchev

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/display/text"
	"github.com/linewatch/linewatch/simulator"
)

// Each deviating cycle kind of the simulator is caught within a stated
// maturity of the phase it starts in, naming the variable it disturbs; the
// good cycle before it stays silent.
//
// deviatingCase is one deviating cycle kind with its stated detection bound.
type deviatingCase struct {
	name       string
	fault      simulator.Fault
	phaseStart time.Time     // of the phase the fault starts in
	from       time.Duration // maturity at which the fault starts
	within     time.Duration // stated bound: caught at maturity ≤ from + within
	names      string        // variable (machine/tag) or rule the first finding must name
}

// deviatingCases: the second cycle (from c2) deviates.
func deviatingCases(c2 time.Time) []deviatingCase {
	freezing, primary := c2, c2.Add(4*time.Hour)
	return []deviatingCase{
		{"slow shelf ramp", simulator.Fault{Kind: simulator.FaultShelfRamp, Target: "lyo1", At: c2, Duration: simulator.Duration(cycle), Factor: 3},
			freezing, 0, 30 * time.Minute, "freezedryer/shelf_temp"},
		{"fast shelf ramp", simulator.Fault{Kind: simulator.FaultShelfRamp, Target: "lyo1", At: c2, Duration: simulator.Duration(cycle), Factor: 0.3},
			freezing, 0, 30 * time.Minute, "freezedryer/shelf_temp"},
		{"chamber pressure rise", simulator.Fault{Kind: simulator.FaultPressureRise, Target: "lyo1", At: primary.Add(5 * time.Hour), Duration: simulator.Duration(2 * time.Hour), Offset: 30},
			primary, 5 * time.Hour, 20 * time.Minute, "freezedryer/chamber_pressure"},
		{"condenser failure", simulator.Fault{Kind: simulator.FaultCondenserFailure, Target: "lyo1", At: primary.Add(8 * time.Hour), Duration: simulator.Duration(4 * time.Hour)},
			primary, 8 * time.Hour, 20 * time.Minute, "freezedryer/condenser_temp"},
		{"early secondary drying", simulator.Fault{Kind: simulator.FaultEarlySecondary, Target: "lyo1", At: primary.Add(14 * time.Hour), Duration: simulator.Duration(time.Minute)},
			primary, 14 * time.Hour, 0, RulePhase},
	}
}

func TestCatchesEachDeviatingCycle(t *testing.T) {
	m := goldenModel(t)
	cases := deviatingCases(simStart.Add(cycle))
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := detectAll(t, m, simulate(t, int64(10+i), 2, tc.fault))
			if len(fs) == 0 {
				t.Fatal("not detected")
			}
			first := fs[0]
			start := tc.phaseStart.Add(tc.from)
			if !first.Active || first.Time.Before(start) {
				t.Fatalf("first finding %s at %s, before the fault at %s: %s", first.Key(), first.Time, start, first.Message)
			}
			maturity := first.Time.Sub(tc.phaseStart)
			// a phase end is judged at the change: its maturity is the phase's length
			if maturity > tc.from+tc.within+readEvery {
				t.Errorf("caught at maturity %s, stated bound %s", maturity, tc.from+tc.within)
			}
			named := false
			for _, f := range fs {
				if !f.Time.Equal(first.Time) || !f.Active {
					continue
				}
				_, inEvidence := f.Evidence[tc.names]
				if f.Machine+"/"+f.Tag == tc.names || f.Rule == tc.names || inEvidence {
					named = true
				}
			}
			if !named {
				t.Errorf("first findings at %s do not name %s: %s", first.Time, tc.names, messages(fs, first.Time))
			}
			t.Logf("%s: caught at %s maturity %s (fault at %s): %s", tc.name, first.Time.Format(time.RFC3339), maturity, tc.from, first.Message)
		})
	}
}

func messages(fs []analytics.Finding, at time.Time) string {
	s := ""
	for _, f := range fs {
		if f.Time.Equal(at) {
			s += fmt.Sprintf("\n  %s: %s", f.Key(), f.Message)
		}
	}
	return s
}

// TestMessagesUseVariableFormat: an envelope finding writes the variable's
// values with DetectorConfig.Value (the engine passes the tag's unit and
// decimals); T² and SPE, which have no unit, two decimals.
func TestMessagesUseVariableFormat(t *testing.T) {
	m := goldenModel(t)
	tc := deviatingCases(simStart.Add(cycle))[2] // chamber pressure rise
	cfg := DetectorConfig{Site: "site", Severity: analytics.Warning, Value: func(variable string, v float64) string {
		if variable != "freezedryer/chamber_pressure" {
			t.Errorf("Value asked for %q", variable)
		}
		return text.Number(v, 1, "µbar")
	}}
	fs := detectAllWith(t, m, simulate(t, 12, 2, tc.fault), cfg)
	envelope := regexp.MustCompile(`^freezedryer/chamber_pressure -?\d+\.\d µbar above the golden-batch envelope -?\d+\.\d µbar \(mean -?\d+\.\d µbar ± 3 σ\) for \d+ slices at primary_drying maturity \d+h\d\dm \(model \S+\)$`)
	stat := regexp.MustCompile(`^(T²|SPE) \d+\.\d\d (above its limit|back below its limit) \d+\.\d\d `)
	var sawEnvelope bool
	for _, f := range fs {
		switch {
		case f.Rule == RuleEnvelope && f.Active:
			sawEnvelope = true
			if !envelope.MatchString(f.Message) {
				t.Errorf("envelope message %q", f.Message)
			}
		case (f.Rule == RuleT2 || f.Rule == RuleSPE) && f.Statistic != 0:
			if !stat.MatchString(f.Message) {
				t.Errorf("%s message %q", f.Rule, f.Message)
			}
		}
	}
	if !sawEnvelope {
		t.Fatalf("no envelope finding in %v", fs)
	}
}
