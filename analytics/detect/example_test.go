package detect_test

import (
	"fmt"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/sample"
)

func ExampleLimits() {
	d, err := detect.NewLimits(detect.LimitsParams{Hi: detect.F(8), OnDelay: 2 * time.Minute, Deadband: 0.5})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var findings []analytics.Finding
	for i, v := range []float64{5, 8.6, 9.1, 9.4, 7.9, 7.2} {
		s := sample.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Line: "L1", Machine: "fridge3", Tag: "temp", Value: v}
		findings = d.Update(s, findings)
	}
	for _, f := range findings {
		fmt.Println(f.Time.Format("15:04"), f.Rule, f.Active)
	}
	for _, e := range d.Excursions() {
		fmt.Printf("%s %s..%s peak %g, %.1f degree-minutes\n", e.Rule, e.Start.Format("15:04"), e.End.Format("15:04"), e.Peak, e.DegreeMinutes)
	}
	// Output:
	// 08:03 hi true
	// 08:05 hi false
	// hi 08:01..08:04 peak 9.4, 3.1 degree-minutes
}
