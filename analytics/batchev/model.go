package batchev

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/linewatch/linewatch/analytics/pca"
)

// Defaults of Options.
const (
	DefaultStep        = 5 * time.Minute
	DefaultWindow      = 2
	DefaultSigma       = 3.0
	DefaultAlpha       = 0.0027 // the two-sided 3σ probability: the same per-slice false-alarm rate as the envelope
	DefaultCPV         = 0.8
	DefaultConsecutive = 3
)

// Options tune Train.
type Options struct {
	Name      string   // model name: the tag of its T²/SPE findings
	Line      string   // line the model watches
	Variables []string // machine/tag of each variable, in model order
	PhaseTag  string   // machine/tag of the phase tag
	Source    string   // where the batches were read (recorded in the file)

	Step        time.Duration // maturity slice width (default 5 min)
	Window      int           // slices either side pooled into a slice's σ and PCA (default 2)
	Sigma       float64       // envelope half-width in σ (default 3)
	Alpha       float64       // false-alarm probability of each slice's T² and SPE limits (default 0.0027)
	CPV         float64       // cumulative fraction of variance kept by each slice's PCA (default 0.8)
	Consecutive int           // slices in a row outside before a finding (default 3)
	MinBatches  int           // batches a slice needs to be modelled (default: half of them, at least 3)
}

func (o *Options) defaults(batches int) {
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Sigma == 0 {
		o.Sigma = DefaultSigma
	}
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.CPV == 0 {
		o.CPV = DefaultCPV
	}
	if o.Consecutive == 0 {
		o.Consecutive = DefaultConsecutive
	}
	if o.MinBatches == 0 {
		o.MinBatches = max(3, (batches+1)/2)
	}
}

// Model is a trained batch evolution model.
type Model struct {
	Name        string
	Line        string
	Variables   []string
	PhaseTag    string
	Step        time.Duration
	Window      int
	Sigma       float64
	Alpha       float64
	Consecutive int
	Batches     []string // ids of the good batches it was trained on
	Source      string
	Phases      []Phase
}

// Phase is the model of one phase.
type Phase struct {
	Name string `json:"name"`
	// Durations of the phase in the good batches that left it for another
	// phase (none for the last phase of a cycle).
	Durations DurationStats `json:"durations"`
	Points    []Point       `json:"points"` // one per maturity slice
}

// DurationStats summarises phase durations, in seconds.
type DurationStats struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_s,omitempty"`
	Max  float64 `json:"max_s,omitempty"`
	Mean float64 `json:"mean_s,omitempty"`
	SD   float64 `json:"sd_s,omitempty"`
}

// Point is the model of one maturity slice of a phase.
type Point struct {
	Batches     int         `json:"batches"` // good batches that reached this slice
	Mean        []float64   `json:"mean"`
	SD          []float64   `json:"sd"`
	Components  int         `json:"components"` // 0: no PCA (one variable)
	Eigenvalues []float64   `json:"eigenvalues,omitempty"`
	Loadings    [][]float64 `json:"loadings,omitempty"` // one row per variable, one column per component
	T2Limit     float64     `json:"t2_limit,omitempty"`
	SPELimit    float64     `json:"spe_limit,omitempty"`
}

// Batch is one good batch's aligned data.
type Batch struct {
	ID     string
	Events []Event
}

// AlignBatch aligns one batch's samples for Train: feed it as an Aligner
// with AssumeStart (the samples start at the batch start).
func AlignBatch(n int, step time.Duration) *Aligner {
	a := NewAligner(n, step, nil)
	a.s.AssumeStart = true
	return a
}

// Train builds a model from the aligned good batches.
func Train(batches []Batch, opts Options) (*Model, error) {
	opts.defaults(len(batches))
	J := len(opts.Variables)
	switch {
	case J == 0:
		return nil, errors.New("batchev: no variables")
	case len(batches) < 3:
		return nil, fmt.Errorf("batchev: %d good batches; train on at least 3 (10 or more for useful limits)", len(batches))
	case opts.Step <= 0 || opts.Window < 0 || opts.Sigma <= 0 || !(opts.Alpha > 0 && opts.Alpha < 1) ||
		!(opts.CPV > 0 && opts.CPV <= 1) || opts.Consecutive < 1:
		return nil, fmt.Errorf("batchev: bad options step %s window %d sigma %v alpha %v cpv %v consecutive %d",
			opts.Step, opts.Window, opts.Sigma, opts.Alpha, opts.CPV, opts.Consecutive)
	}
	m := &Model{
		Name: opts.Name, Line: opts.Line, Variables: slices.Clone(opts.Variables), PhaseTag: opts.PhaseTag,
		Step: opts.Step, Window: opts.Window, Sigma: opts.Sigma, Alpha: opts.Alpha, Consecutive: opts.Consecutive,
		Source: opts.Source,
	}
	// phase → slice → batch → values
	type cell = map[int][]float64
	data := map[string][]cell{}
	durs := map[string][]float64{}
	var order []string
	for bi, b := range batches {
		if slices.Contains(m.Batches, b.ID) {
			return nil, fmt.Errorf("batchev: batch %q given twice", b.ID)
		}
		m.Batches = append(m.Batches, b.ID)
		for _, ev := range b.Events {
			if !slices.Contains(order, ev.Phase) && ev.Kind != EvCycleStart {
				order = append(order, ev.Phase)
			}
			switch ev.Kind {
			case EvPhaseEnd:
				durs[ev.Phase] = append(durs[ev.Phase], ev.Duration.Seconds())
			case EvSlice:
				if len(ev.Values) != J {
					return nil, fmt.Errorf("batchev: batch %s: slice with %d values, want %d", b.ID, len(ev.Values), J)
				}
				if ev.Index < 0 || ev.Index >= maxPoints {
					return nil, fmt.Errorf("batchev: batch %s: phase %s runs %d slices of %s, more than %d; check the phase tag or choose a larger step", b.ID, ev.Phase, ev.Index+1, opts.Step, maxPoints)
				}
				cs := data[ev.Phase]
				for len(cs) <= ev.Index {
					cs = append(cs, cell{})
				}
				cs[ev.Index][bi] = ev.Values
				data[ev.Phase] = cs
			}
		}
	}
	for _, name := range order {
		ph := Phase{Name: name, Durations: durationStats(durs[name])}
		cs := data[name]
		K := 0
		for K < len(cs) && len(cs[K]) >= opts.MinBatches {
			K++
		}
		if K == 0 {
			continue // a phase too few batches had (or only a moment of)
		}
		mean := make([][]float64, K)
		vars := make([][]float64, K)
		for k := 0; k < K; k++ {
			mean[k], vars[k] = make([]float64, J), make([]float64, J)
			for j := 0; j < J; j++ {
				var s, n float64
				for _, x := range cs[k] {
					if finite(x[j]) {
						s += x[j]
						n++
					}
				}
				if n < 2 {
					return nil, fmt.Errorf("batchev: phase %s slice %d: variable %s has %v values in %d batches", name, k, opts.Variables[j], n, len(cs[k]))
				}
				mu := s / n
				var ss float64
				for _, x := range cs[k] {
					if finite(x[j]) {
						ss += (x[j] - mu) * (x[j] - mu)
					}
				}
				mean[k][j], vars[k][j] = mu, ss/(n-1)
			}
		}
		for k := 0; k < K; k++ {
			lo, hi := max(0, k-opts.Window), min(K-1, k+opts.Window)
			p := Point{Batches: len(cs[k]), Mean: mean[k], SD: make([]float64, J)}
			for j := 0; j < J; j++ {
				var pooled float64
				for kk := lo; kk <= hi; kk++ {
					pooled += vars[kk][j]
				}
				pooled /= float64(hi - lo + 1)
				// The own slice's spread when it is wider (a transient the
				// neighbours do not share); a floor for a constant value.
				sd := math.Sqrt(max(pooled, vars[k][j]))
				p.SD[j] = max(sd, 1e-9*(1+math.Abs(mean[k][j])))
			}
			ph.Points = append(ph.Points, p)
		}
		if J >= 2 {
			for k := range ph.Points {
				lo, hi := max(0, k-opts.Window), min(K-1, k+opts.Window)
				var rows []float64
				for kk := lo; kk <= hi; kk++ {
					pk := ph.Points[kk]
					for _, x := range cs[kk] {
						row, ok := standardise(x, pk.Mean, pk.SD)
						if ok {
							rows = append(rows, row...)
						}
					}
				}
				if err := ph.Points[k].fitPCA(rows, J, opts); err != nil {
					return nil, fmt.Errorf("batchev: phase %s slice %d: %w", name, k, err)
				}
			}
		}
		m.Phases = append(m.Phases, ph)
	}
	if len(m.Phases) == 0 {
		return nil, fmt.Errorf("batchev: no phase was seen in %d or more of the %d batches; check the phase tag and the batches", opts.MinBatches, len(batches))
	}
	return m, m.validate()
}

func standardise(x, mean, sd []float64) ([]float64, bool) {
	z := make([]float64, len(x))
	for j := range x {
		if !finite(x[j]) {
			return nil, false
		}
		z[j] = (x[j] - mean[j]) / sd[j]
	}
	return z, true
}

// fitPCA fits the local PCA of the standardised deviations rows (n × J).
func (p *Point) fitPCA(rows []float64, J int, opts Options) error {
	n := len(rows) / J
	if n < J+2 {
		return fmt.Errorf("%d complete observations for %d variables; train on more batches", n, J)
	}
	Z := mat.NewDense(n, J, rows)
	var cov mat.SymDense
	cov.SymOuterK(1/float64(n-1), Z.T()) // deviations from the mean trajectory: mean zero by construction
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return errors.New("eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	idx := make([]int, J)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return vals[idx[a]] > vals[idx[b]] })
	p.Eigenvalues = make([]float64, J)
	var total float64
	for k, i := range idx {
		p.Eigenvalues[k] = max(vals[i], 0)
		total += p.Eigenvalues[k]
	}
	if !(total > 0) {
		return errors.New("no variance in the good batches")
	}
	a, cum := 1, p.Eigenvalues[0]
	for a < J-1 && cum/total < opts.CPV {
		cum += p.Eigenvalues[a]
		a++
	}
	for a > 1 && p.Eigenvalues[a-1] <= 1e-12*p.Eigenvalues[0] {
		a--
	}
	p.Components = a
	p.Loadings = make([][]float64, J)
	for j := range p.Loadings {
		p.Loadings[j] = make([]float64, a)
	}
	for k := 0; k < a; k++ {
		col := idx[k]
		var big float64
		for j := 0; j < J; j++ {
			if v := vecs.At(j, col); math.Abs(v) > math.Abs(big) {
				big = v
			}
		}
		sign := 1.0
		if big < 0 {
			sign = -1 // the same data always gives the same file
		}
		for j := 0; j < J; j++ {
			p.Loadings[j][k] = sign * vecs.At(j, col)
		}
	}
	var err error
	if p.T2Limit, err = pca.T2Limit(a, n, opts.Alpha); err != nil {
		return err
	}
	if p.SPELimit, err = pca.QLimit(p.Eigenvalues[a:], opts.Alpha); err != nil {
		// The residual has no variance: any deviation from the model plane is
		// new; keep a tiny positive limit.
		p.SPELimit = 1e-9
	}
	return nil
}

// Score returns T², SPE and each variable's contribution to them for the
// standardised deviation z (Σ of the contributions is the statistic).
func (p *Point) Score(z []float64) (t2, spe float64, ct2, cspe []float64) {
	J, a := len(z), p.Components
	t := make([]float64, a)
	for k := 0; k < a; k++ {
		for j := 0; j < J; j++ {
			t[k] += z[j] * p.Loadings[j][k]
		}
		t2 += t[k] * t[k] / p.Eigenvalues[k]
	}
	ct2, cspe = make([]float64, J), make([]float64, J)
	for j := 0; j < J; j++ {
		var hat, w float64
		for k := 0; k < a; k++ {
			hat += p.Loadings[j][k] * t[k]
			w += p.Loadings[j][k] * t[k] / p.Eigenvalues[k]
		}
		e := z[j] - hat
		cspe[j] = e * e
		spe += e * e
		ct2[j] = z[j] * w
	}
	return t2, spe, ct2, cspe
}

func durationStats(d []float64) DurationStats {
	st := DurationStats{N: len(d)}
	if len(d) == 0 {
		return st
	}
	st.Min, st.Max = slices.Min(d), slices.Max(d)
	for _, v := range d {
		st.Mean += v
	}
	st.Mean /= float64(len(d))
	if len(d) > 1 {
		for _, v := range d {
			st.SD += (v - st.Mean) * (v - st.Mean)
		}
		st.SD = math.Sqrt(st.SD / float64(len(d)-1))
	}
	return st
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// PhaseIndex returns the position of the named phase, or -1.
func (m *Model) PhaseIndex(name string) int {
	return slices.IndexFunc(m.Phases, func(p Phase) bool { return p.Name == name })
}

// Envelope returns the lower and upper envelope of variable j at a point.
func (m *Model) Envelope(p *Point, j int) (lo, hi float64) {
	return p.Mean[j] - m.Sigma*p.SD[j], p.Mean[j] + m.Sigma*p.SD[j]
}
