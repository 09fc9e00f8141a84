package pca

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// TheoreticalFilter returns a Filter with EWMA weight lambda whose limits are
// derived from the model alone: the EWMA of T² (mean a, variance 2a) and of
// Q (mean θ1, variance 2θ2) is approximated by a moment-matched g·χ²_h at
// the model's alpha. This assumes serially independent observations; for an
// autocorrelated process prefer CalibrateFilter on reference data.
func TheoreticalFilter(m *Model, lambda float64, persistence int) (*Filter, error) {
	if !(lambda > 0 && lambda <= 1) {
		return nil, fmt.Errorf("pca: EWMA lambda %v outside (0,1]", lambda)
	}
	if persistence < 0 {
		return nil, fmt.Errorf("pca: persistence %d must be ≥ 0", persistence)
	}
	var th1, th2 float64
	for _, l := range m.Eigenvalues[m.Components:] {
		th1 += l
		th2 += l * l
	}
	a := float64(m.Components)
	f := &Filter{
		Lambda: lambda, Persistence: persistence,
		T2Limit:     ewmaLimit(a, 2*a, lambda, m.Alpha),
		QLimit:      ewmaLimit(th1, 2*th2, lambda, m.Alpha),
		LimitMethod: LimitEWMAMoments,
	}
	if r := float64(m.ResidualComponents); r > 0 {
		f.T2RLimit = ewmaLimit(r, 2*r, lambda, m.Alpha)
	}
	return f, nil
}

// CalibrateFilter sets the limits of an EWMA (weight lambda, 0 = none) of T²
// and Q to their empirical (1−alpha) quantiles over reference data known to
// be normal. Each segment is a separate run (rows in time order); the EWMA
// and lag history restart at each segment, as they do after Detector.Reset.
// Use data that was not used to train the model, or the limits will be
// optimistic. source describes the data and is stored in the Filter.
func CalibrateFilter(m *Model, segments []*mat.Dense, lambda float64, persistence int, alpha float64, source string) (*Filter, error) {
	if !(lambda >= 0 && lambda <= 1) {
		return nil, fmt.Errorf("pca: EWMA lambda %v outside [0,1]", lambda)
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, fmt.Errorf("pca: alpha %v outside (0,1)", alpha)
	}
	st, err := filteredStatistics(m, segments, lambda)
	if err != nil {
		return nil, err
	}
	if float64(len(st[0]))*alpha < 5 {
		return nil, fmt.Errorf("pca: %d calibration observations are too few for alpha %v (need ≥ %v)", len(st[0]), alpha, math.Ceil(5/alpha))
	}
	f := &Filter{
		Lambda: lambda, Persistence: persistence,
		T2Limit: quantile(st[0], 1-alpha), QLimit: quantile(st[1], 1-alpha),
		LimitMethod: LimitEmpirical, Calibration: source,
	}
	if m.ResidualComponents > 0 {
		f.T2RLimit = quantile(st[2], 1-alpha)
	}
	return f, nil
}

// FilteredStatistics scores every segment (restarting the lag history and
// the EWMA at each) and returns the EWMA-filtered T² and Q of every scored
// row; lambda = 0 returns the raw statistics.
func FilteredStatistics(m *Model, segments []*mat.Dense, lambda float64) (t2s, qs []float64, err error) {
	st, err := filteredStatistics(m, segments, lambda)
	return st[0], st[1], err
}

// filteredStatistics is FilteredStatistics for T², Q and T²_r (all zero
// for a model without residual components).
func filteredStatistics(m *Model, segments []*mat.Dense, lambda float64) (st [numStats][]float64, err error) {
	mc := m.Clone()
	mean := inControlMeans(m)
	nv, p := len(m.Variables), m.Dim()
	aug := make([]float64, p)
	for s, seg := range segments {
		rows, cols := seg.Dims()
		if cols != nv {
			return st, fmt.Errorf("pca: segment %d has %d columns, model %q has %d variables", s, cols, m.Name, nv)
		}
		e := mean
		for i := m.Lags; i < rows; i++ {
			for l := 0; l <= m.Lags; l++ {
				for j := 0; j < nv; j++ {
					aug[l*nv+j] = seg.At(i-l, j)
				}
			}
			var v [numStats]float64
			v[0], v[1], v[2] = mc.ScoreAll(aug)
			for k := range v {
				if math.IsNaN(v[k]) {
					return st, fmt.Errorf("pca: segment %d row %d is not finite", s, i)
				}
				if lambda > 0 {
					e[k] = lambda*v[k] + (1-lambda)*e[k]
					v[k] = e[k]
				}
				st[k] = append(st[k], v[k])
			}
		}
	}
	return st, nil
}

// quantile is the empirical p-quantile with linear interpolation (type 7).
func quantile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	h := p * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}
