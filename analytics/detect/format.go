package detect

import (
	"time"

	"github.com/linewatch/linewatch/internal/display/text"
)

// msgFormat writes the numbers and times of a detector's finding
// messages, the way people read them everywhere else (package display):
// values in the tag's unit with its decimals and times in the site zone,
// from the Target the detector is built for. A detector made by its New…
// function alone (no Target) writes DefaultDecimals, no unit and UTC. The
// messages are for people; the finding's numeric fields keep full
// precision.
type msgFormat struct {
	value func(float64) string
	time  func(time.Time) string
}

// v writes a value in the tag's unit with its decimals: "251.5 mg".
func (m msgFormat) v(x float64) string {
	if m.value == nil {
		return text.Number(x, text.DefaultDecimals, "")
	}
	return m.value(x)
}

// t writes a time in the site zone, 24-hour, labelled.
func (m msgFormat) t(x time.Time) string {
	if m.time == nil {
		return text.Time(x, time.UTC)
	}
	return m.time(x)
}

// setFormat makes a detector's messages write the Target's unit, decimals
// and zone; Build calls it.
func (c *core[P, S]) setFormat(t Target) { c.fm = msgFormat{value: t.Value, time: t.Time} }

// formatted finishes a Build: the new detector writes its messages with
// t's formats.
func formatted[D interface {
	Detector
	setFormat(Target)
}](d D, err error, t Target) (Detector, error) {
	if err != nil {
		return nil, err
	}
	d.setFormat(t)
	return d, nil
}

// ratio writes a number without a unit (z-scores, capability indices,
// T², Laney σz) with two decimals.
func ratio(x float64) string { return text.Number(x, 2, "") }

// percent writes a fraction (0…1) as a percentage: "3.25 %".
func percent(frac float64) string { return pct(100 * frac) }

// count writes a number of units: "16000".
func count(x float64) string { return text.Number(x, 0, "") }

// pct writes a percentage (0…100): "89.19 %".
func pct(x float64) string { return text.Number(x, 2, "%") }
