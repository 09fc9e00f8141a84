package engine

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/pca"
	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/config"
)

// pcaModel aligns the samples of a model's tags into observation vectors:
// a vector is scored once every variable has a value newer than the last
// vector (poll groups read them together, so this is one vector per read).
type pcaModel struct {
	name    string
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

func loadModels(cfg *config.Config) (map[string][]pcaRoute, []*pcaModel, error) {
	routes := map[string][]pcaRoute{}
	var models []*pcaModel
	for _, mc := range cfg.Analytics.Models {
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
		pm := &pcaModel{name: mc.Name, det: det, x: make([]float64, len(mc.Tags)), fresh: make([]bool, len(mc.Tags)), line: mc.Line}
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
