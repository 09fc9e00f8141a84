package tep

import (
	"context"
	"fmt"
)

// Plain is the textbook static PCA monitor of Chiang, Russell & Braatz
// (2001): a = 9 components, α = 0.01, F-distribution T² limit and
// Jackson–Mudholkar Q limit, one observation per decision.
var Plain = Method{Name: "plain PCA", Components: 9, Alpha: 0.01, Persistence: 1}

// CombinedCalibAlpha is the false-alarm rate the improved method's limits
// are calibrated to on the calibration segments, split evenly over its
// statistics (0.005 each for T² and Q, 0.0033 each with the residual T²),
// so any statistic alarms on about 1 % of calibration rows. That leaves a
// margin under the 5 % budget for the drift of later run time that 8-hour
// segments do not show.
const CombinedCalibAlpha = 0.01

// Candidates is the hyperparameter grid for the improved method: dynamic
// PCA lags, retained components, EWMA weight and whether the residual T²
// is monitored besides T² and Q. λ is kept ≥ 0.2 so the EWMA memory
// (≈ (2−λ)/λ ≤ 9 rows) stays short against the 160-row calibration
// segments the limits are estimated from.
func Candidates() []Method {
	var out []Method
	for _, residual := range []bool{false, true} {
		stats, kind := 2.0, "T²+Q"
		if residual {
			stats, kind = 3, "T²+Q+T²r"
		}
		for _, a := range []int{9, 20} {
			for lags := 0; lags <= 3; lags++ {
				for _, lambda := range []float64{0.3, 0.2} {
					out = append(out, Method{
						Name:       fmt.Sprintf("DPCA l=%d a=%d %s EWMA λ=%.1f", lags, a, kind, lambda),
						Components: a, Lags: lags, ResidualT2: residual, Alpha: 0.01, Lambda: lambda, Persistence: 1,
						CalibAlpha: CombinedCalibAlpha / stats,
					})
				}
			}
		}
	}
	return out
}

// Selection is one candidate's score on training data only.
type Selection struct {
	Method Method
	// TrainMissed is the mean missed-detection rate (any statistic) on the
	// fault training files dNN.dat, faults 3, 9 and 15 excluded.
	TrainMissed float64
	// CalibFalseAlarm is the false-alarm rate (any statistic) on the calibration
	// segments.
	CalibFalseAlarm float64
}

// Excluded are the faults PCA-type methods cannot see (Chiang et al. 2001);
// they are left out of the mean missed-detection rates.
var Excluded = []int{3, 9, 15}

func excluded(f int) bool {
	for _, e := range Excluded {
		if e == f {
			return true
		}
	}
	return false
}

// Select scores every candidate on the training fault files and returns the
// scores and the best candidate. No row of a dNN_te file past row 160 and
// no row of d00_te is used.
func Select(ctx context.Context, d *Data, cands []Method) ([]Selection, Method, error) {
	var out []Selection
	best := -1
	for _, m := range cands {
		if err := ctx.Err(); err != nil {
			return nil, Method{}, err
		}
		det, calib, err := trainingRates(d, m)
		if err != nil {
			return nil, Method{}, err
		}
		var miss float64
		n := 0
		for f := 1; f <= NumFaults; f++ {
			if excluded(f) {
				continue
			}
			miss += 1 - det[f].Combined
			n++
		}
		out = append(out, Selection{Method: m, TrainMissed: miss / float64(n), CalibFalseAlarm: calib})
		if best < 0 || out[len(out)-1].TrainMissed < out[best].TrainMissed {
			best = len(out) - 1
		}
	}
	if best < 0 {
		return nil, Method{}, fmt.Errorf("tep: no candidate methods")
	}
	return out, out[best].Method, nil
}
