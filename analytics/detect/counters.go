package detect

import "math"

// Counter turns readings of a monotonic counter (good parts, rejects) into
// increments. A reading below the previous one is a wrap-around when
// Modulus is set, the previous reading is in the upper half of the range and
// the new one in the lower half (increment Modulus − prev + v); otherwise it
// is a reset of the counter (PLC restart, shift reset: increment v, the
// count since the restart). The first reading only sets the reference.
type Counter struct {
	Modulus float64 `json:"modulus,omitempty"` // e.g. 4294967296 for a 32-bit counter; 0: no wrap
	Have    bool    `json:"have,omitempty"`
	Prev    float64 `json:"prev"`
	Resets  int     `json:"resets,omitempty"` // resets seen (wraps excluded)
	Wraps   int     `json:"wraps,omitempty"`
}

// Delta returns the increment since the previous reading; ok is false for
// the first reading and for readings that are negative or not finite.
func (c *Counter) Delta(v float64) (d float64, ok bool) {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	if !c.Have {
		c.Have, c.Prev = true, v
		return 0, false
	}
	prev := c.Prev
	c.Prev = v
	switch {
	case v >= prev:
		return v - prev, true
	case c.Modulus > 0 && prev >= c.Modulus/2 && v < c.Modulus/2:
		c.Wraps++
		return c.Modulus - prev + v, true
	default:
		c.Resets++
		return v, true
	}
}
