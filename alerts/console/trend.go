package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/store"
)

// Trend window around an alarm: from trendBefore ahead of its activation
// to trendAfter past its clear (or now), at most trendMax long.
const (
	trendBefore = 15 * time.Minute
	trendAfter  = 15 * time.Minute
	trendMax    = 12 * time.Hour
	// trendPoints: longer series are reduced to the minimum and maximum of
	// each of trendPoints/2 buckets, so an excursion is never smoothed away.
	trendPoints = 4000
	// trendRead bounds the samples read for one trend.
	trendRead = 500_000
)

type trendLimit struct {
	Name  string  `json:"name"` // LoLo, Lo, Hi, HiHi, LSL, USL, Target
	Value float64 `json:"value"`
	Text  string  `json:"text"` // formatted with the tag's unit and decimals
}

type trendMark struct {
	Name string  `json:"name"` // activated, acknowledged, cleared
	T    float64 `json:"t"`    // unix seconds
	Text string  `json:"text"`
}

// trendView is the answer of GET /api/trend: what the page draws with uPlot.
type trendView struct {
	Alarm    string `json:"alarm"`
	Title    string `json:"title"`
	Message  string `json:"message"`
	Unit     string `json:"unit"`
	Decimals int    `json:"decimals"`
	// TZ is the IANA name of the site zone, for the time axis; ZoneLabel
	// labels it.
	TZ        string       `json:"tz"`
	ZoneLabel string       `json:"zone_label"`
	From      string       `json:"from"`
	To        string       `json:"to"`
	T         []float64    `json:"t"` // unix seconds
	V         []*float64   `json:"v"` // null: bad quality or not a number
	Limits    []trendLimit `json:"limits"`
	Marks     []trendMark  `json:"marks"`
	Samples   int          `json:"samples"` // read from InfluxDB
	Reduced   bool         `json:"reduced"` // min/max per bucket
}

// handleTrend: ?alarm=<id> → the alarm's tag around its activation.
func (s *Server) handleTrend(w http.ResponseWriter, r *http.Request, _ session, _ string) {
	id := r.URL.Query().Get("alarm")
	if id == "" || len(id) > 512 {
		fail(w, http.StatusBadRequest, alerts.CodeInvalid, "Name the alarm: /api/trend?alarm=<id>.")
		return
	}
	if s.opts.Samples == nil {
		fail(w, http.StatusServiceUnavailable, "no_trend", "No trend: this console has no InfluxDB to read samples from.")
		return
	}
	// The bucket is read rather than the live list: it also holds alarms
	// back to normal (a history row) and is never behind the feed.
	a, _, err := s.reader.Get(r.Context(), id)
	if err != nil {
		var ok bool
		if a, ok = s.hub.alarm(id); !ok {
			status := http.StatusNotFound
			if errors.Is(err, alerts.ErrNoAlarmState) {
				status = http.StatusServiceUnavailable
			}
			fail(w, status, alerts.CodeUnknownAlarm, fmt.Sprintf("No alarm %q: %v", id, err))
			return
		}
	}
	if s.opts.Site != "" && a.Site != s.opts.Site {
		fail(w, http.StatusNotFound, alerts.CodeUnknownAlarm, fmt.Sprintf("No alarm %q at site %s.", id, s.opts.Site))
		return
	}
	if a.Detector == alerts.SystemDetector {
		fail(w, http.StatusBadRequest, "no_trend", "A system alarm has no process tag to trend.")
		return
	}
	now := s.clk.Now()
	start := a.ActivatedAt
	if start.IsZero() {
		start = a.UpdatedAt
	}
	from, to := start.Add(-trendBefore), now
	if !a.Active && !a.ClearedAt.IsZero() && a.ClearedAt.After(start) {
		to = a.ClearedAt.Add(trendAfter)
	}
	if to.Sub(from) > trendMax {
		from = to.Add(-trendMax)
	}
	if !from.Before(to) {
		to = from.Add(trendBefore + trendAfter)
	}
	tf, _ := s.fmt.Tag(a.Line, a.Machine, a.Tag)
	v := trendView{Alarm: a.ID, Title: a.Line + " / " + a.Machine + " / " + a.Tag, Message: a.Message, Unit: tf.Unit, Decimals: tf.Decimals,
		TZ: s.fmt.Location().String(), ZoneLabel: s.fmt.ZoneLabel(start), From: s.fmt.Time(from), To: s.fmt.Time(to),
		T: []float64{}, V: []*float64{}, Limits: []trendLimit{}, Marks: []trendMark{}}
	if s.opts.Config != nil {
		if ref, ok := s.opts.Config.Tag(a.Line, a.Machine, a.Tag); ok {
			for _, l := range ref.Tag.NamedLimits() {
				v.Limits = append(v.Limits, trendLimit{Name: l.Name, Value: l.Value, Text: s.fmt.Value(a.Line, a.Machine, a.Tag, l.Value)})
			}
		}
	}
	// The alarm's own limit is drawn only when it is a value of the tag
	// (not a flatline's seconds or a Nelson rule's sigmas).
	if _, _, q := detect.Quantities(a.Detector, a.Rule); len(v.Limits) == 0 && q == detect.InTagUnit && a.Limit != 0 && !math.IsNaN(a.Limit) && !math.IsInf(a.Limit, 0) {
		v.Limits = append(v.Limits, trendLimit{Name: "Limit", Value: a.Limit, Text: s.fmt.Value(a.Line, a.Machine, a.Tag, a.Limit)})
	}
	mark := func(name string, t time.Time) {
		if !t.IsZero() && !t.Before(from) && !t.After(to) {
			v.Marks = append(v.Marks, trendMark{Name: name, T: unixSeconds(t), Text: s.fmt.Time(t)})
		}
	}
	mark("activated", start)
	mark("acknowledged", a.AckedAt)
	if !a.Active {
		mark("cleared", a.ClearedAt)
	}
	var ts []float64
	var vs []float64
	for smp, err := range s.opts.Samples(r.Context(), store.SampleQuery{Site: a.Site, Line: a.Line, Machine: a.Machine, Tags: []string{a.Tag},
		From: from, To: to, ValuesOnly: true}) {
		if err != nil {
			s.log.Warn("console: trend samples", "alarm", id, "err", err)
			fail(w, http.StatusBadGateway, "influxdb", "The samples could not be read from InfluxDB: "+err.Error())
			return
		}
		val := smp.Value
		if !smp.Good() || smp.Text != "" || math.IsNaN(val) || math.IsInf(val, 0) {
			val = math.NaN() // a gap in the line
		}
		ts, vs = append(ts, unixSeconds(smp.Time)), append(vs, val)
		if len(ts) >= trendRead {
			break
		}
	}
	v.Samples = len(ts)
	if len(ts) > trendPoints {
		ts, vs = minMax(ts, vs, trendPoints/2)
		v.Reduced = true
	}
	v.T = ts
	if v.T == nil {
		v.T = []float64{}
	}
	for _, x := range vs {
		if math.IsNaN(x) {
			v.V = append(v.V, nil)
		} else {
			x := x
			v.V = append(v.V, &x)
		}
	}
	writeJSON(w, http.StatusOK, v)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// minMax keeps, of each of n buckets of equal count, its minimum and
// maximum in time order (a gap in a bucket is kept as one gap).
func minMax(ts, vs []float64, n int) ([]float64, []float64) {
	size := (len(ts) + n - 1) / n
	outT, outV := make([]float64, 0, 2*n), make([]float64, 0, 2*n)
	for i := 0; i < len(ts); i += size {
		j := min(i+size, len(ts))
		lo, hi, gap := -1, -1, -1
		for k := i; k < j; k++ {
			switch {
			case math.IsNaN(vs[k]):
				if gap < 0 {
					gap = k
				}
			case lo < 0:
				lo, hi = k, k
			case vs[k] < vs[lo]:
				lo = k
			case vs[k] > vs[hi]:
				hi = k
			}
		}
		var keep []int
		for _, k := range []int{lo, hi, gap} {
			if k >= 0 {
				keep = append(keep, k)
			}
		}
		slices.Sort(keep) // time order within the bucket
		for _, k := range slices.Compact(keep) {
			outT, outV = append(outT, ts[k]), append(outV, vs[k])
		}
	}
	return outT, outV
}
