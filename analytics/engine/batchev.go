package engine

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

// batchModel routes a batch line's samples to its golden-batch detector.
type batchModel struct {
	name string
	line string
	det  *batchev.Detector
	buf  []batchev.SliceStat
}

type batchRoute struct {
	m   *batchModel
	idx int // variable index; phaseIdx for the phase tag
}

const phaseIdx = -1

// loadBatchModels loads analytics.batch_models and checks that each file
// was trained for the line, tags and phase tag the config names.
func loadBatchModels(cfg *config.Config, line string) (map[string][]batchRoute, []*batchModel, error) {
	routes := map[string][]batchRoute{}
	var models []*batchModel
	fm := display.MustNew(cfg)
	for _, mc := range cfg.Analytics.BatchModels {
		if line != "" && mc.Line != line {
			continue // another partition's model
		}
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
		det, err := batchev.NewDetector(m, batchev.DetectorConfig{Site: cfg.Site, Severity: analytics.Warning, Value: variableFormat(fm, mc.Line)})
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

// variableFormat writes a value of a model variable ("machine/tag" of
// line) in its tag's unit and decimals, for the detector's messages.
func variableFormat(fm *display.Formatter, line string) func(string, float64) string {
	return func(variable string, v float64) string {
		machine, tag, _ := strings.Cut(variable, "/")
		return fm.Value(line, machine, tag, v)
	}
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

// drainStats turns the detector's slice statistics into spc points: per
// variable its slice mean and the envelope (value, mean, lower, upper), and
// T²/SPE with their limits on the model (tag: the model name, machine: the
// phase tag's).
func (b *batchModel) drainStats(site string, dst []StatPoint) []StatPoint {
	b.buf = b.det.DrainStats(b.buf[:0])
	m := b.det.Model()
	phaseMachine, _, _ := strings.Cut(m.PhaseTag, "/")
	for _, st := range b.buf {
		for j, v := range m.Variables {
			if math.IsNaN(st.Values[j]) {
				continue
			}
			machine, tag, _ := strings.Cut(v, "/")
			dst = append(dst, StatPoint{Time: st.Time, Site: site, Line: m.Line, Machine: machine, Tag: tag, Detector: batchev.DetectorName,
				Stats: []detect.Stat{{Name: "value", Value: st.Values[j]}, {Name: "mean", Value: st.Mean[j]},
					{Name: "lower", Value: st.Lower[j]}, {Name: "upper", Value: st.Upper[j]},
					{Name: "maturity_h", Value: st.Maturity.Hours()}}})
		}
		if st.T2Limit > 0 {
			dst = append(dst, StatPoint{Time: st.Time, Site: site, Line: m.Line, Machine: phaseMachine, Tag: m.Name, Detector: batchev.DetectorName,
				Stats: []detect.Stat{{Name: "t2", Value: st.T2}, {Name: "t2_limit", Value: st.T2Limit},
					{Name: "spe", Value: st.SPE}, {Name: "spe_limit", Value: st.SPELimit}, {Name: "maturity_h", Value: st.Maturity.Hours()}}})
		}
	}
	return dst
}
