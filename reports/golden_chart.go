package reports

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var colEnvelope = color.RGBA{R: 200, G: 30, B: 30, A: 255}

// goldenPlot draws a batch's trajectory over the golden envelope against
// hours since the batch start, deviations (points outside) marked.
func goldenPlot(c GoldenChart, start float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s/%s over the golden batch (%s, ±%gσ)", c.Machine, c.Tag, c.Model, float64(c.Sigma))
	p.Y.Label.Text = c.Unit
	p.X.Label.Text = "hours since batch start"
	val, mean, lo, hi, out := plotter.XYs{}, plotter.XYs{}, plotter.XYs{}, plotter.XYs{}, plotter.XYs{}
	for _, pt := range c.Points {
		x := (float64(pt.Time.Unix()) - start) / 3600
		val = append(val, plotter.XY{X: x, Y: float64(pt.Value)})
		mean = append(mean, plotter.XY{X: x, Y: float64(pt.Mean)})
		lo = append(lo, plotter.XY{X: x, Y: float64(pt.Lower)})
		hi = append(hi, plotter.XY{X: x, Y: float64(pt.Upper)})
		if pt.Outside {
			out = append(out, plotter.XY{X: x, Y: float64(pt.Value)})
		}
	}
	if len(val) > 0 {
		for _, set := range []struct {
			xy     plotter.XYs
			col    color.Color
			width  vg.Length
			dashed bool
			name   string
		}{{hi, colEnvelope, 0.8, true, "envelope"}, {lo, colEnvelope, 0.8, true, ""}, {mean, colTarget, 0.8, true, "golden mean"}, {val, colMean, 1.2, false, "batch"}} {
			l, err := plotter.NewLine(set.xy)
			if err != nil {
				return nil, fmt.Errorf("golden chart %s/%s: %w", c.Machine, c.Tag, err)
			}
			l.Color, l.Width = set.col, set.width
			if set.dashed {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(l)
			if set.name != "" {
				p.Legend.Add(set.name, l)
			}
		}
	}
	if len(out) > 0 {
		s, err := plotter.NewScatter(out)
		if err != nil {
			return nil, err
		}
		s.Color, s.Shape, s.Radius = colAlarm, draw.CircleGlyph{}, vg.Points(2)
		p.Add(s)
		p.Legend.Add("outside the envelope", s)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Add(plotter.NewGrid())
	return p, nil
}

// goldenImages renders the golden-batch charts of r after the images in out.
func goldenImages(r *Report, format string, out []namedImage) ([]namedImage, error) {
	start := float64(r.Header.Start.Unix())
	for _, c := range r.GoldenBatch {
		if len(c.Points) == 0 {
			continue
		}
		p, err := goldenPlot(c, start)
		if err != nil {
			return nil, err
		}
		b, err := renderPlot(p, format, len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, namedImage{Title: "Golden batch " + c.Machine + "/" + c.Tag, Data: b})
	}
	return out, nil
}
