package engine

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/sample"
)

// A critical tag sending NaN or ±Inf with a Good status: the values feed no
// detector (they are not good), one finding says the sensor sends
// non-finite values, and it clears at the next finite value. A non-critical
// tag doing the same raises nothing; a text read from a numeric tag (a
// wrong type) is not taken for a 0.
func TestNonFiniteOnCriticalTag(t *testing.T) {
	e := demoEngine(t)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	probe := func(i int, v float64) sample.Sample {
		return sample.Sample{Time: at(i), Site: "demo-plant", Line: "coldroom1", Machine: "coldroom", Tag: "temp_probe1", Unit: "°C", Value: v}
	}
	var ss []sample.Sample
	for i := range 60 {
		ss = append(ss, probe(i, 5))
	}
	ss = append(ss, probe(60, math.NaN()), probe(61, math.Inf(1)), probe(62, math.Inf(-1)))
	ss = append(ss, sample.Sample{Time: at(63), Site: "demo-plant", Line: "coldroom1", Machine: "coldroom", Tag: "temp_probe1", Text: "12.5 °C"})
	bad := probe(64, math.NaN())
	bad.Status = 0x808B0000 // Bad: leaves the condition as it is
	ss = append(ss, bad, probe(65, 5))
	fs := run(e, ss)
	var nf []string
	for _, f := range fs {
		if f.Detector == detect.NameNonFinite {
			nf = append(nf, f.Time.Format("15:04:05")+" "+map[bool]string{true: "active", false: "clear"}[f.Active])
			if f.Active && (!strings.Contains(f.Message, "non-finite") || f.Tag != "temp_probe1" || f.ID == "") {
				t.Errorf("finding %+v", f)
			}
		} else if !f.Time.Before(at(60)) {
			t.Errorf("a detector reacted to a non-finite or text value: %+v", f)
		}
	}
	if got := strings.Join(nf, ", "); got != "08:01:00 active, 08:01:05 clear" {
		t.Errorf("non_finite findings: %s", got)
	}
	// fill_weight is critical too; a non-critical tag raises nothing.
	fs = run(demoEngine(t), []sample.Sample{{Time: at(0), Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "fill_speed", Value: math.NaN()}})
	for _, f := range fs {
		if f.Detector == detect.NameNonFinite {
			t.Errorf("non-critical tag raised %+v", f)
		}
	}
}
