package tep

import (
	"fmt"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/linewatch/linewatch/analytics/pca"
)

// Method is one monitoring configuration to benchmark.
type Method struct {
	Name        string
	Components  int     // retained components a
	Lags        int     // dynamic PCA lags (0 = static PCA)
	ResidualT2  bool    // also monitor the residual T² (pca.Options.ResidualT2)
	ResidualTol float64 // pca.Options.ResidualMinEigenvalue (0 = default)
	Alpha       float64 // model alpha (theoretical limits)
	Lambda      float64 // EWMA weight of the statistics, 0 = none
	Persistence int     // consecutive violations to raise (and clear) an alarm
	// CalibAlpha > 0 replaces the theoretical limits by empirical
	// (1−CalibAlpha) quantiles of the (filtered) statistics on the
	// calibration segments (normal data only).
	CalibAlpha float64
}

// Rates are fractions of rows in alarm for T², Q, the residual T² (0 for
// a method without it) and any of them ("Combined").
type Rates struct{ T2, Q, T2R, Combined float64 }

// Result of one method on the data set.
type Result struct {
	Method    Method
	Model     *pca.Model
	T2Limit   float64
	QLimit    float64
	T2RLimit  float64              // 0 without a residual T²
	Detection [NumFaults + 1]Rates // over rows 161..960 of dNN_te
	// Delay is the number of faulty rows before the first alarm of any statistic
	// (0 = alarm on row 161), -1 when the fault is never flagged.
	Delay      [NumFaults + 1]int
	FalseAlarm Rates // over all rows of d00_te
	// CalibFalseAlarm is the false-alarm rate on the calibration segments,
	// the figure the limits were set from.
	CalibFalseAlarm Rates
}

// CalibrationSegments are the normal rows at the start of each fault test
// file (rows 1..160 of d01_te … d21_te): normal data independent of both the
// training file and d00_te.
func (d *Data) CalibrationSegments() []*mat.Dense {
	segs := make([]*mat.Dense, 0, NumFaults)
	for f := 1; f <= NumFaults; f++ {
		segs = append(segs, d.Test[f].Slice(0, FaultStart, 0, NumVars).(*mat.Dense))
	}
	return segs
}

// Evaluate trains m on d.Train, sets its limits, and measures detection and
// false-alarm rates with the streaming pca.Detector, exactly as it would run
// on a line.
func Evaluate(d *Data, m Method) (*Result, error) {
	det, model, err := build(d, m)
	if err != nil {
		return nil, err
	}
	r := &Result{Method: m, Model: model}
	r.T2Limit, r.QLimit = det.Limits()
	r.T2RLimit = det.ResidualLimit()
	if r.FalseAlarm, err = alarmRate(det, d.Normal, 0); err != nil {
		return nil, err
	}
	if r.CalibFalseAlarm, err = pooledRate(det, d.CalibrationSegments()); err != nil {
		return nil, err
	}
	for f := 1; f <= NumFaults; f++ {
		if r.Detection[f], r.Delay[f], err = alarmRateDelay(det, d.Test[f], FaultStart); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// build trains the method's model on d.Train and sets its limits.
func build(d *Data, m Method) (*pca.Detector, *pca.Model, error) {
	model, err := pca.Train(d.Train, VariableNames(), pca.Options{
		Name: "tep", Components: m.Components, Lags: m.Lags, Alpha: m.Alpha, ResidualT2: m.ResidualT2,
		ResidualMinEigenvalue: m.ResidualTol,
		Source:                "Braatz TEP d00.dat",
	})
	if err != nil {
		return nil, nil, fmt.Errorf("tep: train %s: %w", m.Name, err)
	}
	var filter *pca.Filter
	switch {
	case m.CalibAlpha > 0:
		filter, err = pca.CalibrateFilter(model, d.CalibrationSegments(), m.Lambda, m.Persistence, m.CalibAlpha,
			"rows 1-160 of d01_te..d21_te (normal operation)")
	case m.Lambda > 0:
		filter, err = pca.TheoreticalFilter(model, m.Lambda, m.Persistence)
	case m.Persistence > 1:
		filter = &pca.Filter{Persistence: m.Persistence, T2Limit: model.T2Limit, QLimit: model.QLimit,
			T2RLimit: model.T2RLimit, LimitMethod: model.LimitMethod}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tep: limits for %s: %w", m.Name, err)
	}
	model.Filter = filter
	det, err := pca.NewDetector(model, pca.DetectorConfig{Line: "tep"})
	if err != nil {
		return nil, nil, err
	}
	return det, model, nil
}

// pooledRate is the alarm rate over several runs, weighted by their rows.
func pooledRate(det *pca.Detector, segs []*mat.Dense) (Rates, error) {
	var sum Rates
	var rows float64
	for _, seg := range segs {
		rt, err := alarmRate(det, seg, 0)
		if err != nil {
			return Rates{}, err
		}
		n := float64(seg.RawMatrix().Rows)
		sum.T2 += rt.T2 * n
		sum.Q += rt.Q * n
		sum.T2R += rt.T2R * n
		sum.Combined += rt.Combined * n
		rows += n
	}
	return Rates{sum.T2 / rows, sum.Q / rows, sum.T2R / rows, sum.Combined / rows}, nil
}

// trainingRates measures a method on training-side data only: the
// combined detection on the fault training files dNN.dat and the
// false-alarm rate on the calibration segments.
func trainingRates(d *Data, m Method) ([NumFaults + 1]Rates, float64, error) {
	var out [NumFaults + 1]Rates
	det, _, err := build(d, m)
	if err != nil {
		return out, 0, err
	}
	calib, err := pooledRate(det, d.CalibrationSegments())
	if err != nil {
		return out, 0, err
	}
	for f := 1; f <= NumFaults; f++ {
		if out[f], err = alarmRate(det, d.TrainFaults[f], 0); err != nil {
			return out, 0, err
		}
	}
	return out, calib.Combined, nil
}

// alarmRate streams X through a reset detector and returns the fraction of
// rows from row `from` (0-based) on during which each alarm was active.
// Rows before a dynamic model has its full lag window count as no alarm.
func alarmRate(det *pca.Detector, X *mat.Dense, from int) (Rates, error) {
	r, _, err := alarmRateDelay(det, X, from)
	return r, err
}

// alarmRateDelay is alarmRate that also returns how many rows from `from`
// on passed before the first alarm of any statistic (-1: none).
func alarmRateDelay(det *pca.Detector, X *mat.Dense, from int) (Rates, int, error) {
	det.Reset()
	rows, _ := X.Dims()
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	var n, t2n, qn, rn, cn int
	delay := -1
	for i := 0; i < rows; i++ {
		if _, err := det.Observe(t0.Add(time.Duration(i)*3*time.Minute), X.RawRowView(i)); err != nil {
			return Rates{}, -1, err
		}
		if i < from {
			continue
		}
		a, b := det.Active()
		c := det.ActiveResidual()
		n++
		if a {
			t2n++
		}
		if b {
			qn++
		}
		if c {
			rn++
		}
		if a || b || c {
			cn++
			if delay < 0 {
				delay = i - from
			}
		}
	}
	// Reset so the end-of-run state never leaks into the next file.
	det.Reset()
	fn := float64(n)
	return Rates{float64(t2n) / fn, float64(qn) / fn, float64(rn) / fn, float64(cn) / fn}, delay, nil
}

// MeanMissed is the mean missed-detection rate (1 − detection) over all
// faults except those listed.
func (r *Result) MeanMissed(exclude ...int) Rates {
	skip := map[int]bool{}
	for _, f := range exclude {
		skip[f] = true
	}
	var s Rates
	n := 0.0
	for f := 1; f <= NumFaults; f++ {
		if skip[f] {
			continue
		}
		s.T2 += 1 - r.Detection[f].T2
		s.Q += 1 - r.Detection[f].Q
		s.T2R += 1 - r.Detection[f].T2R
		s.Combined += 1 - r.Detection[f].Combined
		n++
	}
	return Rates{s.T2 / n, s.Q / n, s.T2R / n, s.Combined / n}
}
