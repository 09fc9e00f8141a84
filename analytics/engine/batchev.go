package engine

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// batchModel routes a batch line's samples to its golden-batch detector.
type batchModel struct {
	name string
	line string
	det  *batchev.Detector
}

type batchRoute struct {
	m   *batchModel
	idx int // variable index; phaseIdx for the phase tag
}

const phaseIdx = -1

// loadBatchModels loads analytics.batch_models and checks that each file
// was trained for the line, tags and phase tag the config names.
func loadBatchModels(cfg *config.Config) (map[string][]batchRoute, []*batchModel, error) {
	routes := map[string][]batchRoute{}
	var models []*batchModel
	for _, mc := range cfg.Analytics.BatchModels {
		path := mc.File
		if !filepath.IsAbs(path) && cfg.File != "" {
			path = filepath.Join(filepath.Dir(cfg.File), path)
		}
		m, err := batchev.Load(path)
		if err != nil {
			return nil, nil, fmt.Errorf("analytics batch model %s: %w", mc.Name, err)
		}
		if err := Matches(m, mc); err != nil {
			return nil, nil, fmt.Errorf("analytics batch model %s: %w", mc.Name, err)
		}
		det, err := batchev.NewDetector(m, batchev.DetectorConfig{Site: cfg.Site, Severity: analytics.Warning})
		if err != nil {
			return nil, nil, fmt.Errorf("analytics batch model %s: %w", mc.Name, err)
		}
		bm := &batchModel{name: mc.Name, line: mc.Line, det: det}
		for i, t := range mc.Tags {
			k := mc.Line + "/" + t
			routes[k] = append(routes[k], batchRoute{m: bm, idx: i})
		}
		k := mc.Line + "/" + mc.PhaseTag
		routes[k] = append(routes[k], batchRoute{m: bm, idx: phaseIdx})
		models = append(models, bm)
	}
	return routes, models, nil
}

// Matches reports whether a batch model file was trained for what the
// config entry watches: a model of other tags would judge the wrong data.
func Matches(m *batchev.Model, mc config.BatchModel) error {
	switch {
	case m.Line != mc.Line:
		return fmt.Errorf("the file was trained for line %s, the config names line %s; retrain with `linewatch analytics train-batch --line %s`", m.Line, mc.Line, mc.Line)
	case !slices.Equal(m.Variables, mc.Tags):
		return fmt.Errorf("the file was trained on tags %q, the config lists %q (same order); retrain or fix the config", m.Variables, mc.Tags)
	case m.PhaseTag != mc.PhaseTag:
		return fmt.Errorf("the file aligns on phase tag %s, the config names %s", m.PhaseTag, mc.PhaseTag)
	}
	return nil
}

func (b *batchModel) update(s sample.Sample, idx int, dst []analytics.Finding) []analytics.Finding {
	if idx == phaseIdx {
		return b.det.Phase(s.Batch, s.Time, batchev.PhaseText(s.Text, s.Value), dst)
	}
	if s.Text != "" {
		return dst
	}
	return b.det.Value(s.Batch, s.Time, idx, s.Value, dst)
}

// id keys the model's state in an engine checkpoint.
func (b *batchModel) id() string { return "batch/" + b.line + "/" + b.name }
