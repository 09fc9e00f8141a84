package pca

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/linewatch/linewatch/internal/atomicfile"
)

// FileVersion is the version of the model file format this package writes
// and reads.
const FileVersion = 1

// maxFileBytes bounds what the loader reads so a hostile file cannot
// exhaust memory.
const maxFileBytes = 64 << 20

// maxLags bounds the dynamic-PCA lag count a file may ask for.
const maxLags = 1000

// ErrChecksum is returned when a model file's content does not match its
// recorded SHA-256, i.e. it was altered after it was written.
var ErrChecksum = errors.New("pca: model file checksum mismatch (file altered after training); retrain or restore the original file")

// fileModel is the documented on-disk form (docs/benchmarks/tep.md and the
// package doc describe the fields). Field order is fixed: the checksum is the
// SHA-256 of this struct marshalled with SHA256 empty.
type fileModel struct {
	Version     int         `json:"version"`
	Name        string      `json:"name"`
	Variables   []string    `json:"variables"`
	Lags        int         `json:"lags"`
	Means       []float64   `json:"means"`
	StdDevs     []float64   `json:"std_devs"`
	Components  int         `json:"components"`
	Eigenvalues []float64   `json:"eigenvalues"`
	Loadings    [][]float64 `json:"loadings"` // one row per (augmented) variable, one column per component
	// Residual T² (absent in models without it, so their files and
	// checksums are unchanged): components a..a+r-1.
	ResidualComponents int         `json:"residual_components,omitempty"`
	ResidualLoadings   [][]float64 `json:"residual_loadings,omitempty"`
	Alpha              float64     `json:"alpha"`
	T2Limit            float64     `json:"t2_limit"`
	QLimit             float64     `json:"q_limit"`
	T2RLimit           float64     `json:"t2r_limit,omitempty"`
	LimitMethod        string      `json:"limit_method"`
	Filter             *Filter     `json:"filter,omitempty"`
	Training           trainingRef `json:"training"`
	SHA256             string      `json:"sha256"`
}

type trainingRef struct {
	Rows   int    `json:"rows"`
	Source string `json:"source,omitempty"`
	From   string `json:"from,omitempty"` // RFC 3339
	To     string `json:"to,omitempty"`
}

func (m *Model) toFile() fileModel {
	p, a := m.Dim(), m.Components
	f := fileModel{
		Version: FileVersion, Name: m.Name, Variables: m.Variables, Lags: m.Lags,
		Means: m.Mean, StdDevs: m.Std, Components: a, Eigenvalues: m.Eigenvalues,
		Loadings: make([][]float64, p), Alpha: m.Alpha, T2Limit: m.T2Limit, QLimit: m.QLimit,
		LimitMethod: m.LimitMethod, Filter: m.Filter, T2RLimit: m.T2RLimit,
		Training: trainingRef{Rows: m.TrainingRows, Source: m.Source, From: rfc3339(m.From), To: rfc3339(m.To)},
	}
	for j := 0; j < p; j++ {
		f.Loadings[j] = m.Loadings[j*a : j*a+a]
	}
	if r := m.ResidualComponents; r > 0 {
		f.ResidualComponents = r
		f.ResidualLoadings = make([][]float64, p)
		for j := 0; j < p; j++ {
			f.ResidualLoadings[j] = m.ResidualLoadings[j*r : j*r+r]
		}
	}
	return f
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func checksum(f fileModel) (string, error) {
	f.SHA256 = ""
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("pca: encode model: %w", err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// MarshalFile encodes the model in the versioned JSON file format with its
// SHA-256 content checksum.
func (m *Model) MarshalFile() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	f := m.toFile()
	sum, err := checksum(f)
	if err != nil {
		return nil, err
	}
	f.SHA256 = sum
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return nil, fmt.Errorf("pca: encode model %q: %w", m.Name, err)
	}
	return append(b, '\n'), nil
}

// Save writes the model file whole (atomicfile).
func (m *Model) Save(path string) error {
	b, err := m.MarshalFile()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("pca: save model to %s: %w", path, err)
	}
	return nil
}

// Load reads and verifies a model file.
func Load(path string) (*Model, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pca: open model file: %w", err)
	}
	defer fh.Close()
	m, err := ReadModel(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ReadModel decodes a model file, rejects unknown fields and other versions,
// verifies the SHA-256 checksum (ErrChecksum) and checks every parameter.
func ReadModel(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("pca: read model file: %w", err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("pca: model file larger than %d bytes", maxFileBytes)
	}
	var probe struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("pca: model file is not valid JSON: %w", err)
	}
	if probe.Version != FileVersion {
		return nil, fmt.Errorf("pca: model file version %d, this linewatch reads version %d", probe.Version, FileVersion)
	}
	var f fileModel
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("pca: decode model file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("pca: trailing data after the model object")
	}
	sum, err := checksum(f)
	if err != nil {
		return nil, err
	}
	if f.SHA256 != sum {
		return nil, ErrChecksum
	}
	m, err := fromFile(f)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func fromFile(f fileModel) (*Model, error) {
	m := &Model{
		Name: f.Name, Variables: f.Variables, Lags: f.Lags, Mean: f.Means, Std: f.StdDevs,
		Eigenvalues: f.Eigenvalues, Components: f.Components, Alpha: f.Alpha,
		T2Limit: f.T2Limit, QLimit: f.QLimit, LimitMethod: f.LimitMethod, Filter: f.Filter,
		TrainingRows: f.Training.Rows, Source: f.Training.Source,
		ResidualComponents: f.ResidualComponents, T2RLimit: f.T2RLimit,
	}
	var err error
	if m.From, err = parseTime("training.from", f.Training.From); err != nil {
		return nil, err
	}
	if m.To, err = parseTime("training.to", f.Training.To); err != nil {
		return nil, err
	}
	if err := checkNames(m.Variables); err != nil {
		return nil, err
	}
	if m.Lags < 0 || m.Lags > maxLags {
		return nil, fmt.Errorf("pca: lags %d outside [0,%d]", m.Lags, maxLags)
	}
	p, a := m.Dim(), m.Components
	if len(f.Loadings) != p {
		return nil, fmt.Errorf("pca: %d loading rows, want %d", len(f.Loadings), p)
	}
	if a < 1 || a >= p {
		return nil, fmt.Errorf("pca: components %d outside [1,%d)", a, p)
	}
	m.Loadings = make([]float64, 0, p*a)
	for j, row := range f.Loadings {
		if len(row) != a {
			return nil, fmt.Errorf("pca: loading row %d has %d values, want %d", j, len(row), a)
		}
		m.Loadings = append(m.Loadings, row...)
	}
	r := m.ResidualComponents
	if r < 0 || r > p-a {
		return nil, fmt.Errorf("pca: residual components %d outside [0,%d]", r, p-a)
	}
	if r > 0 && len(f.ResidualLoadings) != p {
		return nil, fmt.Errorf("pca: %d residual loading rows, want %d", len(f.ResidualLoadings), p)
	}
	if r == 0 && len(f.ResidualLoadings) != 0 {
		return nil, errors.New("pca: residual loadings without residual components")
	}
	for j, row := range f.ResidualLoadings {
		if len(row) != r {
			return nil, fmt.Errorf("pca: residual loading row %d has %d values, want %d", j, len(row), r)
		}
		m.ResidualLoadings = append(m.ResidualLoadings, row...)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	m.init()
	return m, nil
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("pca: %s %q is not RFC 3339: %w", field, s, err)
	}
	return t.UTC(), nil
}

func finitePositive(v float64) bool { return v > 0 && !math.IsInf(v, 0) }

// validate checks that the parameters are consistent and usable, so that a
// damaged file fails at load time rather than scoring nonsense.
func (m *Model) validate() error {
	if err := checkNames(m.Variables); err != nil {
		return err
	}
	p, a := m.Dim(), m.Components
	if len(m.Mean) != p || len(m.Std) != p || len(m.Eigenvalues) != p {
		return fmt.Errorf("pca: model %q: means/std_devs/eigenvalues have %d/%d/%d values, want %d",
			m.Name, len(m.Mean), len(m.Std), len(m.Eigenvalues), p)
	}
	if a < 1 || a >= p || len(m.Loadings) != p*a {
		return fmt.Errorf("pca: model %q: %d components and %d loadings for %d variables", m.Name, a, len(m.Loadings), p)
	}
	for j := 0; j < p; j++ {
		if math.IsNaN(m.Mean[j]) || math.IsInf(m.Mean[j], 0) {
			return fmt.Errorf("pca: model %q: mean %d is %v", m.Name, j, m.Mean[j])
		}
		if !finitePositive(m.Std[j]) {
			return fmt.Errorf("pca: model %q: std dev %d is %v, want > 0", m.Name, j, m.Std[j])
		}
		l := m.Eigenvalues[j]
		if math.IsNaN(l) || math.IsInf(l, 0) || l < 0 {
			return fmt.Errorf("pca: model %q: eigenvalue %d is %v", m.Name, j, l)
		}
		if j > 0 && l > m.Eigenvalues[j-1]*(1+1e-9)+1e-12 {
			return fmt.Errorf("pca: model %q: eigenvalues not in descending order at %d", m.Name, j)
		}
	}
	if !(m.Eigenvalues[a-1] > 0) {
		return fmt.Errorf("pca: model %q: retained eigenvalue %d is zero", m.Name, a)
	}
	for _, v := range m.Loadings {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("pca: model %q: loading %v is not finite", m.Name, v)
		}
	}
	// Orthonormal loadings are what make T² and Q meaningful.
	for k := 0; k < a; k++ {
		for l := k; l < a; l++ {
			var d float64
			for j := 0; j < p; j++ {
				d += m.Loadings[j*a+k] * m.Loadings[j*a+l]
			}
			want := 0.0
			if k == l {
				want = 1
			}
			if math.Abs(d-want) > 1e-6 {
				return fmt.Errorf("pca: model %q: loadings %d and %d are not orthonormal (dot %v)", m.Name, k, l, d)
			}
		}
	}
	if err := m.validateResidual(); err != nil {
		return err
	}
	if !(m.Alpha > 0 && m.Alpha < 1) {
		return fmt.Errorf("pca: model %q: alpha %v outside (0,1)", m.Name, m.Alpha)
	}
	if !finitePositive(m.T2Limit) || !finitePositive(m.QLimit) {
		return fmt.Errorf("pca: model %q: limits T²=%v Q=%v, want finite and > 0", m.Name, m.T2Limit, m.QLimit)
	}
	if m.TrainingRows <= a+1 {
		return fmt.Errorf("pca: model %q: %d training rows for %d components", m.Name, m.TrainingRows, a)
	}
	if f := m.Filter; f != nil {
		if !(f.Lambda >= 0 && f.Lambda <= 1) {
			return fmt.Errorf("pca: model %q: filter EWMA lambda %v outside [0,1]", m.Name, f.Lambda)
		}
		if f.Persistence < 0 || f.Persistence > 100000 {
			return fmt.Errorf("pca: model %q: filter persistence %d outside [0,100000]", m.Name, f.Persistence)
		}
		if !finitePositive(f.T2Limit) || !finitePositive(f.QLimit) {
			return fmt.Errorf("pca: model %q: filter limits T²=%v Q=%v, want finite and > 0", m.Name, f.T2Limit, f.QLimit)
		}
		if err := m.checkT2RLimit("filter", f.T2RLimit); err != nil {
			return err
		}
	}
	return nil
}

// checkT2RLimit: a T²_r limit is present exactly when the model has
// residual components, so a filter made for another model is refused.
func (m *Model) checkT2RLimit(what string, v float64) error {
	if m.ResidualComponents > 0 && !finitePositive(v) {
		return fmt.Errorf("pca: model %q: %s residual T² limit %v, want finite and > 0", m.Name, what, v)
	}
	if m.ResidualComponents == 0 && v != 0 {
		return fmt.Errorf("pca: model %q: %s has a residual T² limit but the model has no residual components", m.Name, what)
	}
	return nil
}

// validateResidual checks the residual components: within the discarded
// ones, positive variance, loadings orthonormal among themselves and
// orthogonal to the retained ones.
func (m *Model) validateResidual() error {
	p, a, r := m.Dim(), m.Components, m.ResidualComponents
	if r < 0 || r > p-a || len(m.ResidualLoadings) != p*r {
		return fmt.Errorf("pca: model %q: %d residual components and %d residual loadings for %d variables and %d components",
			m.Name, r, len(m.ResidualLoadings), p, a)
	}
	if err := m.checkT2RLimit("raw", m.T2RLimit); err != nil {
		return err
	}
	if r == 0 {
		return nil
	}
	if !(m.Eigenvalues[a+r-1] > 0) {
		return fmt.Errorf("pca: model %q: residual eigenvalue %d is zero", m.Name, a+r)
	}
	for _, v := range m.ResidualLoadings {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("pca: model %q: residual loading %v is not finite", m.Name, v)
		}
	}
	for k := 0; k < r; k++ {
		for l := k; l < r; l++ {
			var d float64
			for j := 0; j < p; j++ {
				d += m.ResidualLoadings[j*r+k] * m.ResidualLoadings[j*r+l]
			}
			want := 0.0
			if k == l {
				want = 1
			}
			if math.Abs(d-want) > 1e-6 {
				return fmt.Errorf("pca: model %q: residual loadings %d and %d are not orthonormal (dot %v)", m.Name, k, l, d)
			}
		}
		for l := 0; l < a; l++ {
			var d float64
			for j := 0; j < p; j++ {
				d += m.ResidualLoadings[j*r+k] * m.Loadings[j*a+l]
			}
			if math.Abs(d) > 1e-6 {
				return fmt.Errorf("pca: model %q: residual loading %d is not orthogonal to loading %d (dot %v)", m.Name, k, l, d)
			}
		}
	}
	return nil
}
