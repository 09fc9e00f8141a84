package reports

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	colMinMax = color.RGBA{R: 120, G: 150, B: 200, A: 255}
	colMean   = color.RGBA{R: 20, G: 60, B: 140, A: 255}
	colAlarm  = color.RGBA{R: 200, G: 30, B: 30, A: 255}
	colSpec   = color.RGBA{R: 230, G: 130, B: 0, A: 255}
	colTarget = color.RGBA{R: 40, G: 140, B: 40, A: 255}
)

const (
	chartW = 17 * vg.Centimeter
	chartH = 6.5 * vg.Centimeter
)

func timeAxis(p *plot.Plot) {
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04\n01-02"}
	p.X.Label.Text = "time (UTC)"
}

// trendPlot draws a critical tag's min/max band, bucket mean and limits.
func trendPlot(c Chart) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s/%s", c.Machine, c.Tag)
	p.Y.Label.Text = c.Unit
	timeAxis(p)
	mins, maxs, means := make(plotter.XYs, len(c.Points)), make(plotter.XYs, len(c.Points)), make(plotter.XYs, len(c.Points))
	for i, pt := range c.Points {
		x := float64(pt.Time.Unix())
		mins[i] = plotter.XY{X: x, Y: float64(pt.Min)}
		maxs[i] = plotter.XY{X: x, Y: float64(pt.Max)}
		means[i] = plotter.XY{X: x, Y: float64(pt.Mean)}
	}
	if len(c.Points) > 0 {
		for _, set := range []struct {
			xy    plotter.XYs
			col   color.Color
			width vg.Length
			name  string
		}{{maxs, colMinMax, 0.6, "max"}, {mins, colMinMax, 0.6, "min"}, {means, colMean, 1.2, "mean"}} {
			l, err := plotter.NewLine(set.xy)
			if err != nil {
				return nil, fmt.Errorf("chart %s/%s: %w", c.Machine, c.Tag, err)
			}
			l.Color, l.Width = set.col, set.width
			p.Add(l)
			if set.name != "min" {
				p.Legend.Add(set.name, l)
			}
		}
		x0, x1 := means[0].X, means[len(means)-1].X
		for _, lim := range c.Limits {
			if !lim.Value.Defined() {
				continue
			}
			l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: float64(lim.Value)}, {X: x1, Y: float64(lim.Value)}})
			if err != nil {
				return nil, err
			}
			switch lim.Name {
			case "LSL", "USL":
				l.Color = colSpec
			case "Target":
				l.Color = colTarget
			default:
				l.Color = colAlarm
			}
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("%s %s", lim.Name, fmtG(lim.Value)), l)
		}
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Add(plotter.NewGrid())
	return p, nil
}

// pChartPlot draws a machine's reject fractions with p̄ and limits.
func pChartPlot(r RejectStats) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("p-chart %s/%s (subgroup %s)", r.Machine, r.RejectTag, r.Subgroup)
	p.Y.Label.Text = "reject fraction"
	timeAxis(p)
	pts, ucl, lcl, cl := plotter.XYs{}, plotter.XYs{}, plotter.XYs{}, plotter.XYs{}
	for _, q := range r.Points {
		x := float64(q.Time.Unix())
		pts = append(pts, plotter.XY{X: x, Y: float64(q.P)})
		if q.UCL.Defined() {
			ucl = append(ucl, plotter.XY{X: x, Y: float64(q.UCL)})
			lcl = append(lcl, plotter.XY{X: x, Y: float64(q.LCL)})
			cl = append(cl, plotter.XY{X: x, Y: float64(r.PBar)})
		}
	}
	if len(pts) > 0 {
		lp, sp, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("p-chart %s: %w", r.Machine, err)
		}
		lp.Color, sp.Color, sp.Shape = colMean, colMean, draw.CircleGlyph{}
		sp.Radius = vg.Points(1.5)
		p.Add(lp, sp)
		p.Legend.Add("p", lp)
	}
	for _, set := range []struct {
		xy   plotter.XYs
		col  color.Color
		name string
	}{{ucl, colAlarm, "UCL"}, {lcl, colAlarm, "LCL"}, {cl, colTarget, "p̄"}} {
		if len(set.xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(set.xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes = set.col, []vg.Length{vg.Points(4), vg.Points(2)}
		p.Add(l)
		p.Legend.Add(set.name, l)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Add(plotter.NewGrid())
	return p, nil
}

// renderPlot encodes a plot as "png" or "svg".
// The i-th image is i points wider: fpdf orders its image catalog by width
// only (map order otherwise), and a report must render to the same bytes
// every time (the signing service and the signer's CLI both render it).
func renderPlot(p *plot.Plot, format string, i int) ([]byte, error) {
	wt, err := p.WriterTo(chartW+vg.Points(float64(i)), chartH, format)
	if err != nil {
		return nil, fmt.Errorf("render chart: %w", err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("render chart: %w", err)
	}
	return b.Bytes(), nil
}

// chartImages renders every trend and p-chart of r.
func chartImages(r *Report, format string) ([]namedImage, error) {
	var out []namedImage
	for _, c := range r.Charts {
		p, err := trendPlot(c)
		if err != nil {
			return nil, err
		}
		b, err := renderPlot(p, format, len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, namedImage{Title: "Trend " + c.Machine + "/" + c.Tag, Data: b})
	}
	for _, rj := range r.Rejects {
		if len(rj.Points) == 0 {
			continue
		}
		p, err := pChartPlot(rj)
		if err != nil {
			return nil, err
		}
		b, err := renderPlot(p, format, len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, namedImage{Title: "Reject p-chart " + rj.Machine, Data: b})
	}
	return goldenImages(r, format, out)
}

type namedImage struct {
	Title string
	Data  []byte
}
