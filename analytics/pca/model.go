package pca

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Limit methods recorded in a model so a reader knows where a limit came from.
const (
	// MinResidualEigenvalue is the smallest eigenvalue, relative to the
	// largest, of a residual component that T²_r scores.
	MinResidualEigenvalue = 1e-6

	LimitTheoretical = "f-distribution/jackson-mudholkar"
	LimitEWMAMoments = "ewma-moment-matched-chi2"
	LimitEmpirical   = "empirical-quantile"
)

// Options control training. The zero value trains a static model with
// α = 0.01 and as many components as explain 90 % of the variance.
type Options struct {
	Name       string  // model name; becomes the Tag of its findings
	Components int     // retained components a; 0 = choose by CPV
	CPV        float64 // cumulative fraction of variance to keep when Components == 0 (default 0.9)
	Alpha      float64 // false-alarm probability of the limits (default 0.01)
	// Lags > 0 trains a dynamic PCA model (Ku, Storer & Georgakis 1995): each
	// observation is augmented with the previous Lags observations.
	Lags int
	// ResidualT2 adds a third statistic, the Hotelling T² of the residual
	// components (T²_r): Q weighs every residual direction alike, T²_r
	// divides each by its variance, so a broken tight relation (a control
	// loop's measured and manipulated variable) counts however little
	// variance it had. Components with eigenvalue below
	// MinResidualEigenvalue·λ1 are left out: they are exact collinearities
	// whose variance is rounding noise.
	ResidualT2 bool
	// ResidualMinEigenvalue overrides MinResidualEigenvalue (relative to
	// the largest eigenvalue); 0 keeps the default.
	ResidualMinEigenvalue float64
	// Provenance, stored in the model file.
	Source   string
	From, To time.Time
}

// Filter describes optional post-processing of the statistics: an EWMA with
// weight Lambda and/or a persistence rule, together with the limits that
// apply to the filtered statistics.
type Filter struct {
	Lambda      float64 `json:"ewma_lambda,omitempty"` // 0 = no EWMA
	Persistence int     `json:"persistence,omitempty"` // consecutive violations needed; 0 or 1 = none
	T2Limit     float64 `json:"t2_limit"`
	QLimit      float64 `json:"q_limit"`
	T2RLimit    float64 `json:"t2r_limit,omitempty"` // residual T²; set exactly when the model has residual components
	LimitMethod string  `json:"limit_method"`
	Calibration string  `json:"calibration,omitempty"` // what data an empirical limit came from
}

// Model is a trained PCA monitoring model. Score reuses internal buffers, so
// a Model must not be scored from several goroutines at once; use Clone.
type Model struct {
	Name        string
	Variables   []string // base variable (tag) names, in observation order
	Lags        int
	Mean, Std   []float64 // per augmented variable, len Dim()
	Loadings    []float64 // row-major Dim() × Components, orthonormal columns
	Eigenvalues []float64 // all Dim() eigenvalues of the correlation matrix, descending
	Components  int
	// ResidualComponents r > 0 enables T²_r over components a..a+r-1,
	// whose loadings are ResidualLoadings (row-major Dim() × r).
	ResidualComponents int
	ResidualLoadings   []float64
	Alpha              float64
	T2Limit            float64 // limit of the raw T² (LimitMethod)
	QLimit             float64 // limit of the raw Q
	T2RLimit           float64 // limit of the raw T²_r (0 when r = 0)
	LimitMethod        string
	Filter             *Filter // nil = raw statistics only
	TrainingRows       int     // rows of the (augmented) training matrix
	Source             string
	From, To           time.Time

	invStd, invLambda, invLambdaR []float64
	z, t, tr                      []float64
}

// Dim is the length of the vector Score expects: len(Variables)·(Lags+1).
func (m *Model) Dim() int { return len(m.Variables) * (m.Lags + 1) }

// AugmentedNames names each element of a scored vector: the base names, then
// "name@t-1", … for the lagged copies.
func (m *Model) AugmentedNames() []string {
	out := make([]string, 0, m.Dim())
	for l := 0; l <= m.Lags; l++ {
		for _, n := range m.Variables {
			if l == 0 {
				out = append(out, n)
			} else {
				out = append(out, n+"@t-"+strconv.Itoa(l))
			}
		}
	}
	return out
}

// Train fits a model on X (rows = observations in time order, columns =
// variables named by names). Each column is autoscaled to zero mean and unit
// variance; the loadings are the leading eigenvectors of the correlation
// matrix.
func Train(X *mat.Dense, names []string, opts Options) (*Model, error) {
	n, m := X.Dims()
	if m != len(names) {
		return nil, fmt.Errorf("pca: %d columns but %d variable names", m, len(names))
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	if opts.Lags < 0 {
		return nil, fmt.Errorf("pca: lags %d must be ≥ 0", opts.Lags)
	}
	if opts.Alpha == 0 {
		opts.Alpha = 0.01
	}
	if !(opts.Alpha > 0 && opts.Alpha < 1) {
		return nil, fmt.Errorf("pca: alpha %v outside (0,1)", opts.Alpha)
	}
	if opts.CPV == 0 {
		opts.CPV = 0.9
	}
	if !(opts.CPV > 0 && opts.CPV <= 1) {
		return nil, fmt.Errorf("pca: CPV %v outside (0,1]", opts.CPV)
	}
	if n-opts.Lags < 3 {
		return nil, fmt.Errorf("pca: %d training rows with %d lags is too few; give more reference data", n, opts.Lags)
	}
	A := augment(X, opts.Lags)
	rows, p := A.Dims()
	mdl := &Model{
		Name: opts.Name, Variables: append([]string(nil), names...), Lags: opts.Lags,
		Mean: make([]float64, p), Std: make([]float64, p),
		Alpha: opts.Alpha, TrainingRows: rows, Source: opts.Source,
		From: opts.From.UTC(), To: opts.To.UTC(),
	}
	aug := mdl.AugmentedNames()
	for j := 0; j < p; j++ {
		var s float64
		for i := 0; i < rows; i++ {
			s += A.At(i, j)
		}
		mean := s / float64(rows)
		var ss float64
		for i := 0; i < rows; i++ {
			d := A.At(i, j) - mean
			ss += d * d
		}
		sd := math.Sqrt(ss / float64(rows-1))
		if !(sd > 0) || math.IsInf(sd, 0) || math.IsNaN(mean) {
			return nil, fmt.Errorf("pca: variable %q has standard deviation %v in the training data (constant or not finite); remove it from the model or choose another reference period", aug[j], sd)
		}
		mdl.Mean[j], mdl.Std[j] = mean, sd
		for i := 0; i < rows; i++ {
			A.Set(i, j, (A.At(i, j)-mean)/sd)
		}
	}
	var corr mat.SymDense
	corr.SymOuterK(1/float64(rows-1), A.T())
	var eig mat.EigenSym
	if !eig.Factorize(&corr, true) {
		return nil, errors.New("pca: eigendecomposition of the correlation matrix did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	order := make([]int, p)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return vals[order[i]] > vals[order[j]] })
	mdl.Eigenvalues = make([]float64, p)
	for k, idx := range order {
		mdl.Eigenvalues[k] = math.Max(vals[idx], 0)
	}
	a := opts.Components
	if a == 0 {
		var total, cum float64
		for _, l := range mdl.Eigenvalues {
			total += l
		}
		for a = 1; a < p; a++ {
			cum += mdl.Eigenvalues[a-1]
			if cum/total >= opts.CPV {
				break
			}
		}
	}
	if a < 1 || a >= p || a >= rows-1 {
		return nil, fmt.Errorf("pca: %d components for %d variables and %d rows; choose 1 ≤ a < min(p, n-1)", a, p, rows)
	}
	if mdl.Eigenvalues[a-1] <= 1e-12*mdl.Eigenvalues[0] {
		return nil, fmt.Errorf("pca: component %d has zero variance (collinear variables); choose fewer components", a)
	}
	mdl.Components = a
	mdl.Loadings = make([]float64, p*a)
	for k := 0; k < a; k++ {
		col := order[k]
		// Fix the sign so the same data always gives the same file.
		sign := 1.0
		var big float64
		for j := 0; j < p; j++ {
			if v := vecs.At(j, col); math.Abs(v) > math.Abs(big) {
				big = v
			}
		}
		if big < 0 {
			sign = -1
		}
		for j := 0; j < p; j++ {
			mdl.Loadings[j*a+k] = sign * vecs.At(j, col)
		}
	}
	if opts.ResidualT2 {
		tol := opts.ResidualMinEigenvalue
		if tol == 0 {
			tol = MinResidualEigenvalue
		}
		if !(tol > 0 && tol < 1) {
			return nil, fmt.Errorf("pca: residual minimum eigenvalue %v outside (0,1)", tol)
		}
		r := 0
		for a+r < p && a+r < rows-2 && mdl.Eigenvalues[a+r] >= tol*mdl.Eigenvalues[0] {
			r++
		}
		if r == 0 {
			return nil, fmt.Errorf("pca: residual T² asked for, but no residual component of %d has variance ≥ %g of the first; use fewer components", p-a, tol)
		}
		mdl.ResidualComponents = r
		mdl.ResidualLoadings = make([]float64, p*r)
		for k := 0; k < r; k++ {
			col := order[a+k]
			sign := 1.0
			var big float64
			for j := 0; j < p; j++ {
				if v := vecs.At(j, col); math.Abs(v) > math.Abs(big) {
					big = v
				}
			}
			if big < 0 {
				sign = -1
			}
			for j := 0; j < p; j++ {
				mdl.ResidualLoadings[j*r+k] = sign * vecs.At(j, col)
			}
		}
	}
	var err error
	if mdl.T2Limit, err = T2Limit(a, rows, opts.Alpha); err != nil {
		return nil, err
	}
	if r := mdl.ResidualComponents; r > 0 {
		if mdl.T2RLimit, err = T2Limit(r, rows, opts.Alpha); err != nil {
			return nil, err
		}
	}
	if mdl.QLimit, err = QLimit(mdl.Eigenvalues[a:], opts.Alpha); err != nil {
		return nil, err
	}
	mdl.LimitMethod = LimitTheoretical
	mdl.init()
	return mdl, nil
}

// augment returns a copy of X (lags == 0) or the lagged matrix whose row i is
// [x(i+l), x(i+l-1), …, x(i)].
func augment(X *mat.Dense, lags int) *mat.Dense {
	n, m := X.Dims()
	rows := n - lags
	A := mat.NewDense(rows, m*(lags+1), nil)
	for i := 0; i < rows; i++ {
		for l := 0; l <= lags; l++ {
			for j := 0; j < m; j++ {
				A.Set(i, l*m+j, X.At(i+lags-l, j))
			}
		}
	}
	return A
}

func checkNames(names []string) error {
	if len(names) < 2 {
		return fmt.Errorf("pca: %d variables; a multivariate model needs at least 2", len(names))
	}
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("pca: variable %d has an empty name", i)
		}
		if seen[n] {
			return fmt.Errorf("pca: variable name %q appears twice", n)
		}
		seen[n] = true
	}
	return nil
}

// init derives the scoring helpers and allocates the reusable buffers.
func (m *Model) init() {
	p, a := m.Dim(), m.Components
	m.invStd = make([]float64, p)
	for j, s := range m.Std {
		m.invStd[j] = 1 / s
	}
	m.invLambda = make([]float64, a)
	for k := 0; k < a; k++ {
		m.invLambda[k] = 1 / m.Eigenvalues[k]
	}
	r := m.ResidualComponents
	m.invLambdaR = make([]float64, r)
	for k := 0; k < r; k++ {
		m.invLambdaR[k] = 1 / m.Eigenvalues[a+k]
	}
	m.z = make([]float64, p)
	m.t = make([]float64, a)
	m.tr = make([]float64, r)
}

// Clone returns a copy with its own scoring buffers, for use in another
// goroutine. The read-only parameters are shared.
func (m *Model) Clone() *Model {
	c := *m
	if m.Filter != nil {
		f := *m.Filter
		c.Filter = &f
	}
	c.init()
	return &c
}

// Score returns Hotelling's T² and the squared prediction error Q of one
// observation x (len Dim(); for a dynamic model the current values first,
// then each lag). It does not allocate. A NaN in x gives NaN statistics.
func (m *Model) Score(x []float64) (t2, q float64) {
	t2, q, _ = m.ScoreAll(x)
	return t2, q
}

// ScoreAll is Score plus the residual T² (T²_r, 0 for a model without
// residual components). It does not allocate.
func (m *Model) ScoreAll(x []float64) (t2, q, t2r float64) {
	p, a := len(m.z), len(m.t)
	if len(x) != p {
		panic(fmt.Sprintf("pca: Score got %d values, model %q expects %d", len(x), m.Name, p))
	}
	z, t, L := m.z, m.t, m.Loadings[:p*a]
	for k := range t {
		t[k] = 0
	}
	var zz float64
	for j := 0; j < p; j++ {
		zj := (x[j] - m.Mean[j]) * m.invStd[j]
		z[j] = zj
		zz += zj * zj
		row := L[j*a : j*a+a]
		for k, l := range row {
			t[k] += zj * l
		}
	}
	var tt float64
	for k, tk := range t {
		t2 += tk * tk * m.invLambda[k]
		tt += tk * tk
	}
	// The loadings are orthonormal, so ‖z − Pt‖² = ‖z‖² − ‖t‖²; the
	// subtraction loses at most ~1e-15·‖z‖², far below any Q limit.
	q = zz - tt
	if q < 0 {
		q = 0
	}
	if r := len(m.tr); r > 0 {
		tr, R := m.tr, m.ResidualLoadings[:p*r]
		for k := range tr {
			tr[k] = 0
		}
		for j := 0; j < p; j++ {
			zj := z[j]
			for k, l := range R[j*r : j*r+r] {
				tr[k] += zj * l
			}
		}
		for k, tk := range tr {
			t2r += tk * tk * m.invLambdaR[k]
		}
	}
	return t2, q, t2r
}

// ResidualContributions splits T²_r of x over the base variables with the
// same partial decomposition as the T² contributions (they sum to T²_r).
// It returns nil for a model without residual components.
func (m *Model) ResidualContributions(x []float64) []float64 {
	p, a, r := m.Dim(), m.Components, m.ResidualComponents
	if r == 0 {
		return nil
	}
	if len(x) != p {
		panic(fmt.Sprintf("pca: ResidualContributions got %d values, model %q expects %d", len(x), m.Name, p))
	}
	z := make([]float64, p)
	t := make([]float64, r)
	for j := 0; j < p; j++ {
		z[j] = (x[j] - m.Mean[j]) / m.Std[j]
		for k := 0; k < r; k++ {
			t[k] += z[j] * m.ResidualLoadings[j*r+k]
		}
	}
	nv := len(m.Variables)
	c := make([]float64, nv)
	for j := 0; j < p; j++ {
		var w float64
		for k := 0; k < r; k++ {
			w += t[k] * m.ResidualLoadings[j*r+k] / m.Eigenvalues[a+k]
		}
		c[j%nv] += z[j] * w
	}
	return c
}

// Contributions splits T² and Q of x over the base variables (lags summed).
// Q contributions are the squared scaled residuals and sum to Q. T²
// contributions use the partial decomposition c_j = z_j Σ_k t_k p_jk/λ_k,
// which sums to T² and can be negative for a variable that pulls the
// observation back toward the model mean.
func (m *Model) Contributions(x []float64) (t2c, qc []float64) {
	p, a := m.Dim(), m.Components
	if len(x) != p {
		panic(fmt.Sprintf("pca: Contributions got %d values, model %q expects %d", len(x), m.Name, p))
	}
	z := make([]float64, p)
	t := make([]float64, a)
	for j := 0; j < p; j++ {
		z[j] = (x[j] - m.Mean[j]) / m.Std[j]
		for k := 0; k < a; k++ {
			t[k] += z[j] * m.Loadings[j*a+k]
		}
	}
	nv := len(m.Variables)
	t2c, qc = make([]float64, nv), make([]float64, nv)
	for j := 0; j < p; j++ {
		var w, rec float64
		for k := 0; k < a; k++ {
			w += t[k] * m.Loadings[j*a+k] / m.Eigenvalues[k]
			rec += t[k] * m.Loadings[j*a+k]
		}
		r := z[j] - rec
		t2c[j%nv] += z[j] * w
		qc[j%nv] += r * r
	}
	return t2c, qc
}
