package reports

import (
	"math"
	"strings"
	"time"

	"github.com/linewatch/linewatch/analytics/batchev"
)

// GoldenChart is one variable of the batch over the golden-batch envelope
// of a model in analytics.batch_models: the batch's mean per maturity
// slice, the good batches' mean and ±σ envelope, as the live
// batch_evolution detector judged them (the same code, on the batch's
// samples from InfluxDB).
type GoldenChart struct {
	Model   string        `json:"model"`
	Machine string        `json:"machine"`
	Tag     string        `json:"tag"`
	Unit    string        `json:"unit,omitempty"`
	Sigma   Num           `json:"sigma"`
	Points  []GoldenPoint `json:"points"`
}

// GoldenPoint is one maturity slice.
type GoldenPoint struct {
	Time     time.Time `json:"time"`
	Phase    string    `json:"phase"`
	Maturity string    `json:"maturity"` // elapsed time in the phase
	Value    Num       `json:"value"`
	Mean     Num       `json:"mean"`
	Lower    Num       `json:"lower"`
	Upper    Num       `json:"upper"`
	Outside  bool      `json:"outside,omitempty"`
}

// maxGoldenPoints bounds a chart (a 32 h cycle at 5 min is 384).
const maxGoldenPoints = 5000

// goldenAcc collects the slices of every golden-batch model of the line.
type goldenAcc struct {
	charts []GoldenChart
	index  map[string]int // model/variable → chart
}

func (g *goldenAcc) slice(m *batchev.Model, st batchev.SliceStat) {
	if g.index == nil {
		g.index = map[string]int{}
	}
	for j, v := range m.Variables {
		k := m.Name + "\x00" + v
		i, ok := g.index[k]
		if !ok {
			machine, tag, _ := strings.Cut(v, "/")
			i = len(g.charts)
			g.index[k] = i
			g.charts = append(g.charts, GoldenChart{Model: m.Name, Machine: machine, Tag: tag, Sigma: Num(m.Sigma), Points: []GoldenPoint{}})
		}
		c := &g.charts[i]
		if len(c.Points) >= maxGoldenPoints || math.IsNaN(st.Values[j]) {
			continue
		}
		c.Points = append(c.Points, GoldenPoint{Time: st.Time.UTC(), Phase: jsonText(st.Phase), Maturity: st.Maturity.String(),
			Value: Num(st.Values[j]), Mean: Num(st.Mean[j]), Lower: Num(st.Lower[j]), Upper: Num(st.Upper[j]),
			Outside: st.Values[j] < st.Lower[j] || st.Values[j] > st.Upper[j]})
	}
}
