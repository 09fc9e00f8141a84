package batchev

import (
	"math"
	"strconv"
	"time"
)

// EventKind says what an alignment Event reports.
type EventKind int

const (
	// EvSlice is a completed maturity slice: Batch, Phase, Index, Time, Values.
	EvSlice EventKind = iota
	// EvPhaseEnd is the end of a phase whose start was seen: Phase, Duration, Time.
	EvPhaseEnd
	// EvCycleStart is a new batch id, or a phase earlier in the recipe than
	// the running one (a new cycle on a line without batch ids): Batch, Time.
	EvCycleStart
)

// Event is one result of alignment.
type Event struct {
	Kind     EventKind
	Batch    string
	Phase    string
	Index    int           // maturity slice: elapsed phase time in [Index·Step, (Index+1)·Step)
	Time     time.Time     // newest sample of the slice; the change for the other kinds
	Values   []float64     // per variable: mean of its samples in the slice, NaN if none
	Duration time.Duration // EvPhaseEnd: how long the phase ran
}

type point struct {
	T time.Time `json:"t"`
	I int       `json:"i"`
	V float64   `json:"v"`
}

// Aligner cuts one line's sample stream into phases and maturity slices.
// Feed it the phase tag's values (Phase) and the variables' values (Value)
// in arrival order; it returns the events they complete. The maturity of a
// sample is its time minus the source time of the first sample that showed
// the running phase. A phase whose start was not seen (the stream joined it
// half-way) yields no slices: its maturity is unknown.
//
// Samples of one read can arrive before the phase value that changed in the
// same read; the open slice keeps its samples, so those at or after the
// change move to the new phase.
type Aligner struct {
	step  time.Duration
	n     int
	order map[string]int // phase → recipe position (nil: no cycle detection by phase order)
	s     alignState
}

// alignState is what an Aligner remembers between samples (its checkpoint).
type alignState struct {
	Batch      string    `json:"batch"`
	HaveBatch  bool      `json:"have_batch"`
	Phase      string    `json:"phase"`
	HavePhase  bool      `json:"have_phase"`
	PhaseStart time.Time `json:"phase_start"`
	Known      bool      `json:"known"` // the running phase's start was seen
	Open       bool      `json:"open"`
	Index      int       `json:"index"`
	Points     []point   `json:"points"`
	// AssumeStart takes the first phase value as the start of its phase
	// (training: the samples of one batch, read from its start).
	AssumeStart bool `json:"assume_start"`
}

// NewAligner aligns n variables on slices of step. phases, if given, is the
// recipe order of the phases, so that going back to an earlier phase starts
// a new cycle even when the batch id does not change.
func NewAligner(n int, step time.Duration, phases []string) *Aligner {
	a := &Aligner{step: step, n: n}
	if len(phases) > 0 {
		a.order = make(map[string]int, len(phases))
		for i, p := range phases {
			a.order[p] = i
		}
	}
	return a
}

// Phase takes a value of the phase tag.
func (a *Aligner) PhaseValue(batch string, t time.Time, phase string, dst []Event) []Event {
	dst = a.batchCheck(batch, t, dst)
	if a.s.HavePhase && phase == a.s.Phase {
		return dst
	}
	var carry []point
	if a.s.Open {
		keep := a.s.Points[:0]
		for _, p := range a.s.Points {
			if p.T.Before(t) {
				keep = append(keep, p)
			} else {
				carry = append(carry, p)
			}
		}
		carry = append([]point(nil), carry...)
		a.s.Points = keep
		dst = a.flush(dst)
	}
	known := a.s.AssumeStart
	if a.s.HavePhase {
		known = true
		cur, ok1 := a.order[a.s.Phase]
		next, ok2 := a.order[phase]
		if a.s.Known && t.After(a.s.PhaseStart) {
			dst = append(dst, Event{Kind: EvPhaseEnd, Batch: a.s.Batch, Phase: a.s.Phase, Time: t, Duration: t.Sub(a.s.PhaseStart)})
		}
		if ok1 && ok2 && next < cur {
			dst = append(dst, Event{Kind: EvCycleStart, Batch: batch, Time: t})
		}
	}
	a.s.AssumeStart = false
	a.s.Phase, a.s.HavePhase, a.s.PhaseStart, a.s.Known = phase, true, t, known
	for _, p := range carry {
		dst = a.add(p, dst)
	}
	return dst
}

// Value takes a value of variable i (finite values only; the caller drops
// others, as the engine drops non-good samples).
func (a *Aligner) Value(batch string, t time.Time, i int, v float64, dst []Event) []Event {
	if i < 0 || i >= a.n || math.IsNaN(v) || math.IsInf(v, 0) {
		return dst
	}
	dst = a.batchCheck(batch, t, dst)
	return a.add(point{T: t, I: i, V: v}, dst)
}

// Flush closes the open slice (end of the data).
func (a *Aligner) Flush(dst []Event) []Event { return a.flush(dst) }

func (a *Aligner) add(p point, dst []Event) []Event {
	k := 0
	if a.s.HavePhase {
		if p.T.Before(a.s.PhaseStart) {
			return dst // older than the phase: a late re-read
		}
		k = int(p.T.Sub(a.s.PhaseStart) / a.step)
	}
	if a.s.Open && k != a.s.Index {
		if k < a.s.Index {
			return dst // out of order within the phase
		}
		dst = a.flush(dst)
	}
	a.s.Open, a.s.Index = true, k
	a.s.Points = append(a.s.Points, p)
	return dst
}

func (a *Aligner) batchCheck(batch string, t time.Time, dst []Event) []Event {
	if a.s.HaveBatch && batch == a.s.Batch {
		return dst
	}
	if a.s.HaveBatch {
		dst = a.flush(dst)
		dst = append(dst, Event{Kind: EvCycleStart, Batch: batch, Time: t})
		// A new batch starts its phase anew, even one of the same name
		// (a line whose batches have a single phase); when the phase value
		// changes in the same read, PhaseValue moves the samples on.
		if a.s.HavePhase {
			a.s.PhaseStart, a.s.Known = t, true
		}
	}
	a.s.Batch, a.s.HaveBatch = batch, true
	return dst
}

func (a *Aligner) flush(dst []Event) []Event {
	if !a.s.Open {
		return dst
	}
	a.s.Open = false
	pts := a.s.Points
	a.s.Points = a.s.Points[:0]
	if !a.s.HavePhase || !a.s.Known || len(pts) == 0 {
		return dst
	}
	sum := make([]float64, a.n)
	cnt := make([]int, a.n)
	var last time.Time
	for _, p := range pts {
		sum[p.I] += p.V
		cnt[p.I]++
		if p.T.After(last) {
			last = p.T
		}
	}
	for i := range sum {
		if cnt[i] == 0 {
			sum[i] = math.NaN()
		} else {
			sum[i] /= float64(cnt[i])
		}
	}
	return append(dst, Event{Kind: EvSlice, Batch: a.s.Batch, Phase: a.s.Phase, Index: a.s.Index, Time: last, Values: sum})
}

// PhaseText is the phase name of a phase tag value: its text, or its
// number (a PLC step number) formatted the same way everywhere.
func PhaseText(text string, value float64) string {
	if text != "" {
		return text
	}
	return strconv.FormatFloat(value, 'f', -1, 64)
}
