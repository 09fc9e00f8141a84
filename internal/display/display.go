package display

import (
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display/text"
)

// DefaultDecimals is used for a tag that declares no decimals and for
// values that belong to no tag.
const DefaultDecimals = text.DefaultDecimals

// TimeLayout is the layout of Formatter.Time: ISO date, 24-hour clock,
// zone abbreviation.
const TimeLayout = text.TimeLayout

// TagFormat is how one tag's values are written.
type TagFormat struct {
	Unit     string
	Decimals int
}

type tagKey struct{ line, machine, tag string }

// Formatter formats values and times for people. The zero value formats
// in UTC with DefaultDecimals and no units.
type Formatter struct {
	loc  *time.Location
	tags map[tagKey]TagFormat
	// byName finds a tag by line and tag name alone (alarm ids and
	// findings name the machine; some report tables do not).
	byName map[tagKey]TagFormat
}

// New builds the Formatter of a configuration: its time zone and every
// tag's unit and decimals.
func New(cfg *config.Config) (*Formatter, error) {
	loc, err := cfg.Location()
	if err != nil {
		return nil, err
	}
	f := &Formatter{loc: loc, tags: map[tagKey]TagFormat{}, byName: map[tagKey]TagFormat{}}
	for _, l := range cfg.Lines {
		for _, m := range l.Machines {
			for _, t := range m.Tags {
				tf := TagFormat{Unit: t.Unit, Decimals: DefaultDecimals}
				if t.Decimals != nil {
					tf.Decimals = *t.Decimals
				}
				f.tags[tagKey{l.ID, m.ID, t.Name}] = tf
				f.byName[tagKey{l.ID, "", t.Name}] = tf
			}
		}
	}
	return f, nil
}

// MustNew is New for configurations already validated (config.Load
// refuses a bad time_zone), falling back to UTC.
func MustNew(cfg *config.Config) *Formatter {
	f, err := New(cfg)
	if err != nil {
		c := *cfg
		c.TimeZone = "UTC"
		f, _ = New(&c)
	}
	return f
}

// Tag returns the format of a tag; machine may be "" to match by line
// and tag name. ok is false for an unknown tag (DefaultDecimals, no unit).
func (f *Formatter) Tag(line, machine, tag string) (TagFormat, bool) {
	if f != nil {
		if tf, ok := f.tags[tagKey{line, machine, tag}]; ok {
			return tf, true
		}
		if tf, ok := f.byName[tagKey{line, "", tag}]; ok {
			return tf, true
		}
	}
	return TagFormat{Decimals: DefaultDecimals}, false
}

// Value writes v with the tag's decimals and unit: "12.35 g".
func (f *Formatter) Value(line, machine, tag string, v float64) string {
	tf, _ := f.Tag(line, machine, tag)
	return Number(v, tf.Decimals, tf.Unit)
}

// Number writes v with decimals digits after the point and, when unit is
// not empty, a space and the unit (SI style: "5.0 °C", "0.8 %"); see
// text.Number.
func Number(v float64, decimals int, unit string) string { return text.Number(v, decimals, unit) }

// Location is the site time zone.
func (f *Formatter) Location() *time.Location {
	if f == nil || f.loc == nil {
		return time.UTC
	}
	return f.loc
}

// Time writes t in the site zone, 24-hour, with the zone's abbreviation:
// "2026-12-05 09:51:28 CET". The zero time is written "—".
func (f *Formatter) Time(t time.Time) string {
	return text.Time(t, f.Location())
}

// TimeRFC3339 writes t in the site zone as RFC 3339 with its offset, for
// machine-readable output (CSV, JSON) that people also read.
func (f *Formatter) TimeRFC3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.Location()).Format(time.RFC3339)
}

// ZoneLabel names the site zone for a column header or a page footer:
// "UTC" or "Europe/Dublin (UTC+01:00)" at the given instant (the offset
// changes with daylight saving time).
func (f *Formatter) ZoneLabel(at time.Time) string {
	loc := f.Location()
	if loc == time.UTC {
		return "UTC"
	}
	return loc.String() + " (UTC" + at.In(loc).Format("-07:00") + ")"
}

// Quantity writes v as what q measures for the tag: "251.4 mg" (the tag's
// unit and decimals), "2.8 mg/min", "30m0s", "44.00 %", "3.46".
func (f *Formatter) Quantity(line, machine, tag string, q detect.Quantity, v float64) string {
	switch q {
	case detect.Plain:
		return Number(v, 2, "")
	case detect.Seconds:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Number(v, 0, "s")
		}
		return time.Duration(math.Round(v) * float64(time.Second)).String()
	case detect.Percent:
		return Number(v, 2, "%")
	case detect.Fraction:
		return Number(100*v, 2, "%")
	case detect.PerMinute:
		tf, _ := f.Tag(line, machine, tag)
		if tf.Unit == "" {
			return Number(v, tf.Decimals, "per min")
		}
		return Number(v, tf.Decimals, tf.Unit+"/min")
	}
	return f.Value(line, machine, tag, v)
}

// FindingValue writes the Value of a finding or alarm of detector/rule
// (detect.Quantities): the reading in the tag's unit, or the detector's
// own quantity (a p-chart's fraction, a yield).
func (f *Formatter) FindingValue(line, machine, tag, detector, rule string, v float64) string {
	q, _, _ := detect.Quantities(detector, rule)
	return f.Quantity(line, machine, tag, q, v)
}

// FindingStatistic writes the Statistic of a finding of detector/rule.
func (f *Formatter) FindingStatistic(line, machine, tag, detector, rule string, v float64) string {
	_, q, _ := detect.Quantities(detector, rule)
	return f.Quantity(line, machine, tag, q, v)
}

// FindingLimit writes the Limit of a finding or alarm of detector/rule:
// a flatline's is a duration, a Nelson rule's a number of sigmas.
func (f *Formatter) FindingLimit(line, machine, tag, detector, rule string, v float64) string {
	_, _, q := detect.Quantities(detector, rule)
	return f.Quantity(line, machine, tag, q, v)
}
