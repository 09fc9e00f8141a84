package sample

import (
	"math"
	"time"
)

// Quality is the OPC UA status code severity class (Part 4, 7.39: the two
// top bits of the code).
type Quality uint8

const (
	Good Quality = iota
	Uncertain
	Bad
)

func (q Quality) String() string {
	switch q {
	case Good:
		return "good"
	case Uncertain:
		return "uncertain"
	default:
		return "bad"
	}
}

// QualityOf maps a raw OPC UA status code to its severity class.
func QualityOf(status uint32) Quality {
	switch status >> 30 {
	case 0:
		return Good
	case 1:
		return Uncertain
	default: // 2 = bad, 3 is reserved and treated as bad
		return Bad
	}
}

// Sample is one value of one tag. Values of string tags (batch id, machine
// state, product code) are in Text; numeric and boolean values in Value
// (booleans as 0/1).
type Sample struct {
	Time    time.Time // source timestamp when the server gave one, else server/receive time; UTC
	Site    string
	Line    string
	Machine string
	Tag     string
	Unit    string
	Value   float64
	Text    string
	Status  uint32 // raw OPC UA status code; 0 = Good
	Batch   string // batch id in force on the line when the value was read
}

// Quality is the severity class of the sample's status code.
func (s Sample) Quality() Quality { return QualityOf(s.Status) }

// Good reports whether the value may be used by analytics: a Good status
// and, for a numeric value, a finite one. NaN and ±Inf are stored and
// travel with their status, but count as not good (like a Bad status).
func (s Sample) Good() bool {
	return s.Quality() == Good && (s.Text != "" || Finite(s.Value))
}

// Finite reports whether v is neither NaN nor infinite.
func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Key identifies the tag within a site: "line/machine/tag".
func (s Sample) Key() string { return s.Line + "/" + s.Machine + "/" + s.Tag }
