package text

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultDecimals is used for a tag that declares no decimals and for
// values that belong to no tag.
const DefaultDecimals = 2

// TimeLayout is how times are written for people: ISO date, 24-hour
// clock, zone abbreviation.
const TimeLayout = "2006-01-02 15:04:05 MST"

// Number writes v with decimals digits after the point and, when unit is
// not empty, a space and the unit (SI style: "5.0 °C", "0.8 %").
// Non-finite values are written as words a reader cannot take for a
// measurement: "NaN", "+Inf", "-Inf". Negative zero is written as zero.
func Number(v float64, decimals int, unit string) string {
	var s string
	switch {
	case math.IsNaN(v):
		s = "NaN"
	case math.IsInf(v, 1):
		s = "+Inf"
	case math.IsInf(v, -1):
		s = "-Inf"
	default:
		decimals = min(max(decimals, 0), 10)
		s = strconv.FormatFloat(v, 'f', decimals, 64)
		if strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0.") == "" {
			s = s[1:] // -0.00 → 0.00
		}
	}
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// Time writes t in loc (nil: UTC) with TimeLayout; the zero time is "—".
func Time(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(TimeLayout)
}
