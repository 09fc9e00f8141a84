package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/pca"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// pcaModel aligns the samples of a model's tags into observation vectors:
// a vector is scored once every variable has a value newer than the last
// vector (poll groups read them together, so this is one vector per read).
type pcaModel struct {
	name    string
	tags    []string // machine/tag, in model variable order
	det     *pca.Detector
	x       []float64
	fresh   []bool
	nFresh  int
	latest  time.Time
	line    string
	machine string
	stats   []float64
}

type pcaRoute struct {
	m   *pcaModel
	idx int
}

// loadModels loads the PCA models of line ("": every line).
func loadModels(cfg *config.Config, line string) (map[string][]pcaRoute, []*pcaModel, error) {
	routes := map[string][]pcaRoute{}
	var models []*pcaModel
	for _, mc := range cfg.Analytics.Models {
		if line != "" && mc.Line != line {
			continue
		}
		path := mc.File
		if !filepath.IsAbs(path) && cfg.File != "" {
			path = filepath.Join(filepath.Dir(cfg.File), path)
		}
		m, err := pca.Load(path)
		if err != nil {
			return nil, nil, fmt.Errorf("analytics model %s: %w", mc.Name, err)
		}
		if len(m.Variables) != len(mc.Tags) {
			return nil, nil, fmt.Errorf("analytics model %s: file has %d variables, config lists %d tags", mc.Name, len(m.Variables), len(mc.Tags))
		}
		det, err := pca.NewDetector(m, pca.DetectorConfig{Site: cfg.Site, Line: mc.Line, Machine: "", Severity: analytics.Warning})
		if err != nil {
			return nil, nil, fmt.Errorf("analytics model %s: %w", mc.Name, err)
		}
		pm := &pcaModel{name: mc.Name, tags: slices.Clone(mc.Tags), det: det, x: make([]float64, len(mc.Tags)), fresh: make([]bool, len(mc.Tags)), line: mc.Line}
		for i, t := range mc.Tags {
			k := mc.Line + "/" + t
			routes[k] = append(routes[k], pcaRoute{m: pm, idx: i})
		}
		models = append(models, pm)
	}
	return routes, models, nil
}

func (p *pcaModel) update(s sample.Sample, idx int, dst []analytics.Finding) []analytics.Finding {
	if !p.fresh[idx] {
		p.fresh[idx] = true
		p.nFresh++
	}
	p.x[idx] = s.Value
	if s.Time.After(p.latest) {
		p.latest = s.Time
	}
	if p.nFresh < len(p.x) {
		return dst
	}
	for i := range p.fresh {
		p.fresh[i] = false
	}
	p.nFresh = 0
	fs, err := p.det.Observe(p.latest, p.x)
	if err != nil {
		return dst // out-of-order or non-finite vector: the detector resets its window
	}
	return append(dst, fs...)
}

// pcaSaved is the checkpoint form of a pcaModel: the detector's own state
// and the partly assembled observation vector.
type pcaSaved struct {
	V        int             `json:"v"`
	Line     string          `json:"line"`
	Tags     []string        `json:"tags"`
	Detector json.RawMessage `json:"detector"`
	X        []*float64      `json:"x"` // null: not fresh, or not finite (JSON has no NaN)
	Fresh    []bool          `json:"fresh"`
	Latest   time.Time       `json:"latest"`
}

// id keys the model's state in an engine checkpoint. It cannot collide
// with a detector instance id (line/machine/tag/detector).
func (p *pcaModel) id() string { return "pca/" + p.line + "/" + p.name }

// snapshot saves the PCA detector's state and the observation being
// assembled, so a restart neither re-raises nor loses a finding.
func (p *pcaModel) snapshot() (json.RawMessage, error) {
	det, err := p.det.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", p.id(), err)
	}
	x := make([]*float64, len(p.x))
	for i, v := range p.x {
		if p.fresh[i] && !math.IsNaN(v) && !math.IsInf(v, 0) {
			x[i] = &v
		}
	}
	b, err := json.Marshal(pcaSaved{V: 1, Line: p.line, Tags: p.tags, Detector: det, X: x, Fresh: p.fresh, Latest: p.latest})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", p.id(), err)
	}
	return b, nil
}

// restore loads a snapshot of the same model on the same tags. On error
// (another model, retrained file, changed tags) the model is unchanged and
// the caller should log that it starts fresh.
func (p *pcaModel) restore(data json.RawMessage) error {
	var s pcaSaved
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("restore %s: %w", p.id(), err)
	}
	switch {
	case s.V != 1:
		return fmt.Errorf("restore %s: checkpoint version %d, this build reads 1", p.id(), s.V)
	case s.Line != p.line || !slices.Equal(s.Tags, p.tags):
		return fmt.Errorf("restore %s: checkpoint is for line %s tags %q, config has line %s tags %q", p.id(), s.Line, s.Tags, p.line, p.tags)
	case len(s.X) != len(p.x) || len(s.Fresh) != len(p.fresh):
		return fmt.Errorf("restore %s: checkpoint holds %d values, model has %d tags", p.id(), len(s.X), len(p.x))
	}
	if err := p.det.Restore(s.Detector); err != nil {
		return fmt.Errorf("restore %s: %w", p.id(), err)
	}
	copy(p.fresh, s.Fresh)
	p.nFresh = 0
	for i, f := range p.fresh {
		p.x[i] = 0 // overwritten before the next vector is scored
		if !f {
			continue
		}
		p.nFresh++
		p.x[i] = math.NaN() // a non-finite value: the detector will refuse the vector, as it would have
		if s.X[i] != nil {
			p.x[i] = *s.X[i]
		}
	}
	p.latest = s.Latest.UTC()
	return nil
}
