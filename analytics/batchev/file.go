package batchev

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
	"unicode/utf8"

	"github.com/linewatch/linewatch/internal/atomicfile"
)

// FileVersion is the model file format this package writes and reads.
const FileVersion = 1

// Bounds a model file must respect (a hostile file cannot exhaust memory or
// make scoring blow up).
const (
	maxFileBytes  = 64 << 20
	maxVariables  = 256
	maxPhases     = 64
	maxPoints     = 100_000 // per phase
	maxBatches    = 100_000
	maxNameLength = 256
)

// ErrChecksum is returned when a model file's content does not match its
// recorded SHA-256: it was altered after training.
var ErrChecksum = errors.New("batchev: model file checksum mismatch (altered after training); retrain with `linewatch analytics train-batch` or restore the original file")

// fileModel is the on-disk form. Field order is fixed: the checksum is the
// SHA-256 of this struct marshalled with SHA256 empty.
type fileModel struct {
	Version     int      `json:"version"`
	Kind        string   `json:"kind"` // "batch_evolution"
	Name        string   `json:"name"`
	Line        string   `json:"line"`
	Variables   []string `json:"variables"`
	PhaseTag    string   `json:"phase_tag"`
	Maturity    string   `json:"maturity"` // "elapsed_phase_time"
	StepSeconds float64  `json:"step_s"`
	Window      int      `json:"window"`
	Sigma       float64  `json:"sigma"`
	Alpha       float64  `json:"alpha"`
	Consecutive int      `json:"consecutive"`
	Batches     []string `json:"batches"`
	Source      string   `json:"source,omitempty"`
	Phases      []Phase  `json:"phases"`
	SHA256      string   `json:"sha256"`
}

const (
	kindName     = "batch_evolution"
	maturityName = "elapsed_phase_time"
)

func (m *Model) toFile() fileModel {
	return fileModel{Version: FileVersion, Kind: kindName, Name: m.Name, Line: m.Line, Variables: m.Variables,
		PhaseTag: m.PhaseTag, Maturity: maturityName, StepSeconds: m.Step.Seconds(), Window: m.Window,
		Sigma: m.Sigma, Alpha: m.Alpha, Consecutive: m.Consecutive, Batches: m.Batches, Source: m.Source, Phases: m.Phases}
}

func checksum(f fileModel) (string, error) {
	f.SHA256 = ""
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("batchev: encode model: %w", err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// MarshalFile encodes the model with its checksum.
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
		return nil, fmt.Errorf("batchev: encode model %q: %w", m.Name, err)
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
		return fmt.Errorf("batchev: save model to %s: %w", path, err)
	}
	return nil
}

// Load reads and verifies a model file.
func Load(path string) (*Model, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("batchev: open model file: %w", err)
	}
	defer fh.Close()
	m, err := ReadModel(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ReadModel decodes a model file: unknown fields, other versions, a wrong
// checksum (ErrChecksum) and inconsistent parameters are errors.
func ReadModel(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("batchev: read model file: %w", err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("batchev: model file larger than %d bytes", maxFileBytes)
	}
	var probe struct {
		Version int    `json:"version"`
		Kind    string `json:"kind"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("batchev: model file is not valid JSON: %w", err)
	}
	if probe.Kind != kindName {
		return nil, fmt.Errorf("batchev: model file kind %q, want %q (a PCA model file goes in analytics.models, a batch model in analytics.batch_models)", probe.Kind, kindName)
	}
	if probe.Version != FileVersion {
		return nil, fmt.Errorf("batchev: model file version %d, this linewatch reads version %d", probe.Version, FileVersion)
	}
	var f fileModel
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("batchev: decode model file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("batchev: trailing data after the model object")
	}
	sum, err := checksum(f)
	if err != nil {
		return nil, err
	}
	if f.SHA256 != sum {
		return nil, ErrChecksum
	}
	if f.Maturity != maturityName {
		return nil, fmt.Errorf("batchev: maturity %q, this linewatch knows %q", f.Maturity, maturityName)
	}
	if !(f.StepSeconds >= 1 && f.StepSeconds <= 86400) {
		return nil, fmt.Errorf("batchev: step %v s outside [1, 86400]", f.StepSeconds)
	}
	m := &Model{Name: f.Name, Line: f.Line, Variables: f.Variables, PhaseTag: f.PhaseTag,
		Step: time.Duration(f.StepSeconds * float64(time.Second)), Window: f.Window, Sigma: f.Sigma, Alpha: f.Alpha,
		Consecutive: f.Consecutive, Batches: f.Batches, Source: f.Source, Phases: f.Phases}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func checkName(what, s string) error {
	if s == "" || len(s) > maxNameLength || !utf8.ValidString(s) {
		return fmt.Errorf("batchev: %s %q: want 1–%d bytes of UTF-8", what, s, maxNameLength)
	}
	return nil
}

// validate checks that a model is usable, so a damaged file fails at load
// time rather than scoring nonsense.
func (m *Model) validate() error {
	if err := checkName("name", m.Name); err != nil {
		return err
	}
	if err := checkName("line", m.Line); err != nil {
		return err
	}
	if err := checkName("phase tag", m.PhaseTag); err != nil {
		return err
	}
	J := len(m.Variables)
	if J < 1 || J > maxVariables {
		return fmt.Errorf("batchev: model %q: %d variables, want 1–%d", m.Name, J, maxVariables)
	}
	seen := map[string]bool{}
	for _, v := range m.Variables {
		if err := checkName("variable", v); err != nil {
			return err
		}
		if seen[v] {
			return fmt.Errorf("batchev: model %q: variable %q twice", m.Name, v)
		}
		seen[v] = true
	}
	switch {
	case m.Step < time.Second || m.Step > 24*time.Hour:
		return fmt.Errorf("batchev: model %q: step %s outside [1s, 24h]", m.Name, m.Step)
	case m.Window < 0 || m.Window > 100:
		return fmt.Errorf("batchev: model %q: window %d outside [0, 100]", m.Name, m.Window)
	case !(m.Sigma > 0 && m.Sigma <= 100):
		return fmt.Errorf("batchev: model %q: sigma %v outside (0, 100]", m.Name, m.Sigma)
	case !(m.Alpha > 0 && m.Alpha < 1):
		return fmt.Errorf("batchev: model %q: alpha %v outside (0, 1)", m.Name, m.Alpha)
	case m.Consecutive < 1 || m.Consecutive > 10000:
		return fmt.Errorf("batchev: model %q: consecutive %d outside [1, 10000]", m.Name, m.Consecutive)
	case len(m.Batches) < 1 || len(m.Batches) > maxBatches:
		return fmt.Errorf("batchev: model %q: %d source batches, want 1–%d", m.Name, len(m.Batches), maxBatches)
	case len(m.Phases) < 1 || len(m.Phases) > maxPhases:
		return fmt.Errorf("batchev: model %q: %d phases, want 1–%d", m.Name, len(m.Phases), maxPhases)
	}
	for _, b := range m.Batches {
		if len(b) > maxNameLength || !utf8.ValidString(b) {
			return fmt.Errorf("batchev: model %q: source batch id %q: want at most %d bytes of UTF-8", m.Name, b, maxNameLength)
		}
	}
	phases := map[string]bool{}
	for _, ph := range m.Phases {
		if err := checkName("phase", ph.Name); err != nil {
			return err
		}
		if phases[ph.Name] {
			return fmt.Errorf("batchev: model %q: phase %q twice", m.Name, ph.Name)
		}
		phases[ph.Name] = true
		d := ph.Durations
		if d.N < 0 || d.N > maxBatches || !(d.Min >= 0) || !(d.Max >= d.Min) || !(d.Mean >= d.Min && d.Mean <= d.Max) || !(d.SD >= 0) || math.IsInf(d.Max, 0) || math.IsInf(d.SD, 0) {
			return fmt.Errorf("batchev: model %q: phase %q: inconsistent durations %+v", m.Name, ph.Name, d)
		}
		if len(ph.Points) < 1 || len(ph.Points) > maxPoints {
			return fmt.Errorf("batchev: model %q: phase %q: %d points, want 1–%d", m.Name, ph.Name, len(ph.Points), maxPoints)
		}
		for k := range ph.Points {
			if err := ph.Points[k].validate(J); err != nil {
				return fmt.Errorf("batchev: model %q: phase %q point %d: %w", m.Name, ph.Name, k, err)
			}
		}
	}
	return nil
}

func (p *Point) validate(J int) error {
	if p.Batches < 1 || p.Batches > maxBatches {
		return fmt.Errorf("batches %d", p.Batches)
	}
	if len(p.Mean) != J || len(p.SD) != J {
		return fmt.Errorf("%d means and %d σ for %d variables", len(p.Mean), len(p.SD), J)
	}
	for j := 0; j < J; j++ {
		if !finite(p.Mean[j]) || !finite(p.SD[j]) || !(p.SD[j] > 0) {
			return fmt.Errorf("variable %d: mean %v σ %v, want finite and σ > 0", j, p.Mean[j], p.SD[j])
		}
	}
	a := p.Components
	if a == 0 {
		if len(p.Eigenvalues) != 0 || len(p.Loadings) != 0 || p.T2Limit != 0 || p.SPELimit != 0 {
			return errors.New("no components but PCA parameters")
		}
		return nil
	}
	if a < 1 || a >= J {
		return fmt.Errorf("components %d outside [1, %d)", a, J)
	}
	if len(p.Eigenvalues) != J || len(p.Loadings) != J {
		return fmt.Errorf("%d eigenvalues and %d loading rows, want %d", len(p.Eigenvalues), len(p.Loadings), J)
	}
	for k, l := range p.Eigenvalues {
		if !finite(l) || l < 0 || (k > 0 && l > p.Eigenvalues[k-1]*(1+1e-9)+1e-12) {
			return fmt.Errorf("eigenvalue %d is %v (want finite, ≥ 0, descending)", k, l)
		}
	}
	if !(p.Eigenvalues[a-1] > 0) {
		return fmt.Errorf("retained eigenvalue %d is zero", a)
	}
	for j, row := range p.Loadings {
		if len(row) != a {
			return fmt.Errorf("loading row %d has %d values, want %d", j, len(row), a)
		}
		for _, v := range row {
			if !finite(v) {
				return fmt.Errorf("loading %v not finite", v)
			}
		}
	}
	for k := 0; k < a; k++ {
		for l := k; l < a; l++ {
			var d float64
			for j := 0; j < J; j++ {
				d += p.Loadings[j][k] * p.Loadings[j][l]
			}
			want := 0.0
			if k == l {
				want = 1
			}
			if math.Abs(d-want) > 1e-6 {
				return fmt.Errorf("loadings %d and %d not orthonormal (dot %v)", k, l, d)
			}
		}
	}
	if !finite(p.T2Limit) || !(p.T2Limit > 0) || !finite(p.SPELimit) || !(p.SPELimit > 0) {
		return fmt.Errorf("limits T² %v SPE %v, want finite and > 0", p.T2Limit, p.SPELimit)
	}
	return nil
}
