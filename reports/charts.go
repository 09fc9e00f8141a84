package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/linewatch/linewatch/internal/display"
)

var (
	colMinMax = color.RGBA{R: 120, G: 150, B: 200, A: 255}
	colMean   = color.RGBA{R: 20, G: 60, B: 140, A: 255}
	colAlarm  = color.RGBA{R: 200, G: 30, B: 30, A: 255}
	colSpec   = color.RGBA{R: 230, G: 130, B: 0, A: 255}
	colTarget = color.RGBA{R: 40, G: 140, B: 40, A: 255}
	colSignal = color.RGBA{R: 130, G: 40, B: 160, A: 255}
)

const (
	chartW = 17 * vg.Centimeter
	chartH = 6.5 * vg.Centimeter
	// legendW is the strip right of the data where the legend goes, so it
	// never hides a point.
	legendW = 3.4 * vg.Centimeter
)

// timeAxis labels the x axis with times in the site zone.
func timeAxis(p *plot.Plot, f *display.Formatter, at time.Time) {
	p.X.Tick.Marker = zoneTimeTicks{loc: f.Location()}
	p.X.Label.Text = "time (" + f.ZoneLabel(at) + ")"
}

type zoneTimeTicks struct{ loc *time.Location }

func (z zoneTimeTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.TimeTicks{Format: "15:04\n01-02", Time: func(t float64) time.Time { return time.Unix(int64(t), 0).In(z.loc) }}
	return ts.Ticks(min, max)
}

// decimalTicks are the default tick positions labelled with a fixed
// number of decimals: at least the tag's, and as many more as it takes for
// neighbouring labels to differ (never "2.1, 2, 2").
type decimalTicks struct{ decimals int }

func (d decimalTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	var major []float64
	for _, t := range ticks {
		if t.Label != "" {
			major = append(major, t.Value)
		}
	}
	dec := tickDecimals(major, d.decimals)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', dec, 64)
		}
	}
	return ticks
}

// tickDecimals is the fewest decimals, from min, that write every value
// distinctly and each within 1 % of the step of itself.
func tickDecimals(vals []float64, min int) int {
	dec := max(min, 0)
	for ; dec < 10; dec++ {
		ok := true
		seen := map[string]bool{}
		for i, v := range vals {
			s := strconv.FormatFloat(v, 'f', dec, 64)
			if seen[s] {
				ok = false
			}
			seen[s] = true
			if i > 0 {
				step := math.Abs(v - vals[i-1])
				back, _ := strconv.ParseFloat(s, 64)
				if math.Abs(back-v) > step/100 {
					ok = false
				}
			}
		}
		if ok {
			return dec
		}
	}
	return dec
}

// markers draws vertical lines at times (alarm activations, detector
// signals) across [y0, y1], with one legend entry.
func markers(p *plot.Plot, times []time.Time, y0, y1 float64, col color.Color, name string) error {
	for i, t := range times {
		x := float64(t.Unix())
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}})
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = col, vg.Points(0.8), []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		if i == 0 {
			p.Legend.Add(name, l)
		}
	}
	return nil
}

// events are the alarm activations (process time) and detector signals
// of machine/tag in r.
func events(r *Report, machine, tag, detector string) (alarms, signals []time.Time) {
	for _, a := range r.Alarms {
		if a.Machine != machine || a.Tag != tag || (detector != "" && a.Detector != detector) {
			continue
		}
		for _, e := range a.Events {
			if e.Event == "activate" {
				at := e.ProcessTime
				if at.IsZero() {
					at = e.Time
				}
				alarms = append(alarms, at)
			}
		}
	}
	for _, s := range r.Signals {
		if s.Machine == machine && s.Tag == tag && s.Detector != "limits" && (detector == "" || s.Detector == detector) {
			signals = append(signals, s.Time)
		}
	}
	return alarms, signals
}

func yRange(xys ...plotter.XYs) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, set := range xys {
		for _, p := range set {
			if !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0) {
				lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
			}
		}
	}
	return lo, hi
}

// limitLabels writes each limit's name and value at the right end of its
// line.
func limitLabels(p *plot.Plot, x float64, names []string, ys []float64) error {
	if len(names) == 0 {
		return nil
	}
	xyl := plotter.XYLabels{Labels: names}
	for _, y := range ys {
		xyl.XYs = append(xyl.XYs, plotter.XY{X: x, Y: y})
	}
	l, err := plotter.NewLabels(xyl)
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Size = vg.Points(6.5)
		l.TextStyle[i].XAlign = draw.XRight
		l.TextStyle[i].YAlign = draw.YBottom
	}
	p.Add(l)
	return nil
}

// trendPlot draws a critical tag's min/max band, bucket mean, labelled
// limits, and its alarm activations and detector signals.
func trendPlot(r *Report, c Chart, f *display.Formatter) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s/%s", c.Machine, c.Tag)
	p.Y.Label.Text = c.Unit
	p.Y.Tick.Marker = decimalTicks{decimals: c.Decimals}
	timeAxis(p, f, r.Header.Start)
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
		}{{maxs, colMinMax, 0.6, "min/max"}, {mins, colMinMax, 0.6, ""}, {means, colMean, 1.2, "mean"}} {
			l, err := plotter.NewLine(set.xy)
			if err != nil {
				return nil, fmt.Errorf("chart %s/%s: %w", c.Machine, c.Tag, err)
			}
			l.Color, l.Width = set.col, set.width
			p.Add(l)
			if set.name != "" {
				p.Legend.Add(set.name, l)
			}
		}
		x0, x1 := means[0].X, means[len(means)-1].X
		var names []string
		var ys []float64
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
			// Limits at the same value share one label ("USL/Hi 8.00 °C").
			text := display.Number(float64(lim.Value), c.Decimals, c.Unit)
			merged := false
			for i, y := range ys {
				if y == float64(lim.Value) {
					names[i] = strings.Replace(names[i], " ", "/"+lim.Name+" ", 1)
					merged = true
				}
			}
			if !merged {
				names = append(names, lim.Name+" "+text)
				ys = append(ys, float64(lim.Value))
			}
		}
		if err := limitLabels(p, x1, names, ys); err != nil {
			return nil, err
		}
		lo, hi := yRange(mins, maxs)
		for _, y := range ys {
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
		alarms, signals := events(r, c.Machine, c.Tag, "")
		if err := markers(p, alarms, lo, hi, colAlarm, "alarm"); err != nil {
			return nil, err
		}
		if err := markers(p, signals, lo, hi, colSignal, "signal"); err != nil {
			return nil, err
		}
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// spcPlot draws an EWMA or CUSUM statistic with its control limits and
// the detector's signals.
func spcPlot(r *Report, c SPCChart, f *display.Formatter) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s chart %s/%s", map[string]string{"ewma": "EWMA", "cusum": "CUSUM"}[c.Detector], c.Machine, c.Tag)
	p.Y.Label.Text = c.Unit
	p.Y.Tick.Marker = decimalTicks{decimals: c.Decimals}
	timeAxis(p, f, r.Header.Start)
	series := make([]plotter.XYs, len(c.Series))
	for _, pt := range c.Points {
		x := float64(pt.Time.Unix())
		for j := range c.Series {
			if j < len(pt.V) && pt.V[j].Defined() {
				series[j] = append(series[j], plotter.XY{X: x, Y: float64(pt.V[j])})
			}
		}
	}
	style := map[string]struct {
		col    color.Color
		dashed bool
		name   string
	}{
		"ewma": {colMean, false, "EWMA"}, "ucl": {colAlarm, true, "UCL"}, "lcl": {colAlarm, true, "LCL"}, "cl": {colTarget, true, "centre"},
		"cusum_hi": {colMean, false, "C+"}, "cusum_lo": {colMinMax, false, "C−"}, "cusum_h": {colAlarm, true, "H"},
	}
	for j, name := range c.Series {
		if len(series[j]) == 0 {
			continue
		}
		l, err := plotter.NewLine(series[j])
		if err != nil {
			return nil, err
		}
		st := style[name]
		l.Color, l.Width = st.col, vg.Points(1)
		if st.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(st.name, l)
	}
	lo, hi := yRange(series...)
	if !math.IsInf(lo, 0) {
		alarms, signals := events(r, c.Machine, c.Tag, c.Detector)
		if err := markers(p, alarms, lo, hi, colAlarm, "alarm"); err != nil {
			return nil, err
		}
		if err := markers(p, signals, lo, hi, colSignal, "signal"); err != nil {
			return nil, err
		}
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// pChartPlot draws a machine's reject fractions with p̄ and limits.
func pChartPlot(r *Report, rj RejectStats, f *display.Formatter) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("p-chart %s/%s (subgroup %s)", rj.Machine, rj.RejectTag, rj.Subgroup)
	p.Y.Label.Text = "reject fraction"
	p.Y.Tick.Marker = decimalTicks{decimals: 3}
	timeAxis(p, f, r.Header.Start)
	pts, ucl, lcl, cl, out := plotter.XYs{}, plotter.XYs{}, plotter.XYs{}, plotter.XYs{}, plotter.XYs{}
	for _, q := range rj.Points {
		x := float64(q.Time.Unix())
		pts = append(pts, plotter.XY{X: x, Y: float64(q.P)})
		if q.UCL.Defined() {
			ucl = append(ucl, plotter.XY{X: x, Y: float64(q.UCL)})
			lcl = append(lcl, plotter.XY{X: x, Y: float64(q.LCL)})
			cl = append(cl, plotter.XY{X: x, Y: float64(rj.PBar)})
			if q.P > q.UCL || q.P < q.LCL {
				out = append(out, plotter.XY{X: x, Y: float64(q.P)})
			}
		}
	}
	if len(pts) > 0 {
		lp, sp, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("p-chart %s: %w", rj.Machine, err)
		}
		lp.Color, sp.Color, sp.Shape = colMean, colMean, draw.CircleGlyph{}
		sp.Radius = vg.Points(1.5)
		p.Add(lp, sp)
		p.Legend.Add("p", lp)
	}
	if len(out) > 0 {
		sc, err := plotter.NewScatter(out)
		if err != nil {
			return nil, err
		}
		sc.Color, sc.Shape, sc.Radius = colAlarm, draw.CircleGlyph{}, vg.Points(2.5)
		p.Add(sc)
		p.Legend.Add("out of control", sc)
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
	p.Add(plotter.NewGrid())
	return p, nil
}

// renderPlot encodes a plot as "png" or "svg", its legend in a strip
// right of the data (never over it).
// The i-th image is i points wider: fpdf orders its image catalog by width
// only (map order otherwise), and a report must render to the same bytes
// every time (the signing service and the signer's CLI both render it).
func renderPlot(p *plot.Plot, format string, i int) ([]byte, error) {
	w := chartW + vg.Points(float64(i))
	c, err := draw.NewFormattedCanvas(w, chartH, format)
	if err != nil {
		return nil, fmt.Errorf("render chart: %w", err)
	}
	dc := draw.New(c)
	leg := p.Legend
	p.Legend = plot.NewLegend()
	p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	p.Legend = leg
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(7)
	leg.Draw(draw.Crop(dc, w-legendW+vg.Points(6), 0, 0, -vg.Points(18)))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("render chart: %w", err)
	}
	return b.Bytes(), nil
}

// chartImages renders every trend, SPC chart and p-chart of r.
func chartImages(r *Report, format string) ([]namedImage, error) {
	f := formatter(r)
	var out []namedImage
	add := func(p *plot.Plot, err error, title string) error {
		if err != nil {
			return err
		}
		b, err := renderPlot(p, format, len(out))
		if err != nil {
			return err
		}
		out = append(out, namedImage{Title: title, Data: b})
		return nil
	}
	for _, c := range r.Charts {
		p, err := trendPlot(r, c, f)
		if err := add(p, err, "Trend "+c.Machine+"/"+c.Tag); err != nil {
			return nil, err
		}
	}
	for _, s := range r.Storage {
		for _, c := range s.Charts {
			p, err := trendPlot(r, c, f)
			if err := add(p, err, "Trend "+c.Machine+"/"+c.Tag+" in storage location "+s.Location); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range r.SPCCharts {
		p, err := spcPlot(r, c, f)
		if err := add(p, err, map[string]string{"ewma": "EWMA", "cusum": "CUSUM"}[c.Detector]+" chart "+c.Machine+"/"+c.Tag+" (it signalled during the batch)"); err != nil {
			return nil, err
		}
	}
	for _, rj := range r.Rejects {
		if len(rj.Points) == 0 {
			continue
		}
		p, err := pChartPlot(r, rj, f)
		if err := add(p, err, "Reject p-chart "+rj.Machine); err != nil {
			return nil, err
		}
	}
	return goldenImages(r, format, out)
}

type namedImage struct {
	Title string
	Data  []byte
}
