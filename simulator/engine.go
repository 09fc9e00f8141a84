package simulator

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gopcua/opcua/ua"
)

// stepSize is the fixed physics step in simulated time. Physics never looks
// at the wall clock, so a run depends only on the seed and the plant.
const stepSize = time.Second

// lineModel is the physics of one line.
type lineModel interface {
	step(now time.Time, dt time.Duration, f *forcing)
}

// forcing holds line-level fault effects (cold room door, compressor).
type forcing struct {
	doorOpen       bool
	compressorFail bool
	// freeze dryer cycle faults (deviating lyophilisation cycles)
	shelfRamp      float64 // multiplies the shelf ramp durations (0 = normal)
	pressureRise   float64 // µbar added to the chamber pressure set point in primary drying
	earlySecondary bool    // end primary drying now (latched for the batch)
	condenserFail  bool    // condenser refrigeration off
}

// effects holds the active fault effects on one tag.
type effects struct {
	step    float64
	drifts  []rateSince
	factor  float64
	creeps  []rateSince
	stuck   bool
	status  ua.StatusCode
	removed bool
	hostile string // hostile value kind read instead of the value
	text    string // its text (hostile "text")
}

type rateSince struct {
	rate  float64
	since time.Time
}

func (x *effects) offset(now time.Time) float64 {
	o := x.step
	for _, d := range x.drifts {
		o += d.rate * now.Sub(d.since).Hours()
	}
	return o
}

func (x *effects) creep(now time.Time) float64 {
	c := 0.0
	for _, d := range x.creeps {
		c += d.rate * now.Sub(d.since).Hours()
	}
	return c
}

// actionKind is a server-side consequence of a fault, executed after the
// engine lock is released (closing a server can wait on request handlers
// that need the lock).
type actionKind int

const (
	actDown actionKind = iota
	actUp
	actDrop
	actStarted // a scheduled fault took effect (for the log)
	actEnded   // a fault's duration ran out (for the log)
)

type action struct {
	kind actionKind
	rec  FaultRecord
}

// engine is the simulated plant: clock, tags, line physics and fault book.
// One mutex guards everything; OPC UA reads take the read lock.
type engine struct {
	mu sync.RWMutex

	start  time.Time
	clock  time.Time // Now()
	tickAt time.Time // last physics step
	seed   int64

	lines  []lineModel
	tags   []*tag
	byID   map[string]*tag
	lineOf map[string]*LineSpec
	force  map[string]*forcing
	extra  *extraTags

	records []*FaultRecord
	nextID  int

	down      bool
	downUntil time.Time
	upWaiters []chan struct{}
}

func newEngine(p *Plant, seed int64, start time.Time, extraCount int) (*engine, error) {
	e := &engine{
		start: start, clock: start, tickAt: start, seed: seed,
		byID: map[string]*tag{}, lineOf: map[string]*LineSpec{}, force: map[string]*forcing{},
	}
	for i := range p.Lines {
		l := &p.Lines[i]
		e.lineOf[l.ID] = l
		e.force[l.ID] = &forcing{}
		m, tags := buildLine(l, seed, start)
		e.lines = append(e.lines, m)
		for _, t := range tags {
			e.tags = append(e.tags, t)
			e.byID[t.id] = t
		}
	}
	n := max(extraCount, p.ExtraTags)
	if n < 0 || n > MaxExtraTags {
		return nil, fmt.Errorf("extra tags %d out of range: use 0..%d", n, MaxExtraTags)
	}
	e.extra = &extraTags{n: n, seed: seed}
	for _, l := range e.lines {
		l.step(start, stepSize, e.force[lineIDOf(l)])
	}
	return e, nil
}

// resolveTag maps "ns=2;s=a.b.c" or "a.b.c" to a tag.
func (e *engine) resolveTag(target string) (*tag, bool) {
	s := strings.TrimPrefix(target, "ns=2;s=")
	t, ok := e.byID[s]
	return t, ok
}

// resolveLine maps a target to the line it names and that line's model.
func (e *engine) resolveLine(target string) (string, string, bool) {
	s := strings.TrimPrefix(target, "ns=2;s=")
	line, _, _ := strings.Cut(s, ".")
	l, ok := e.lineOf[line]
	if !ok {
		return "", "", false
	}
	return line, l.Model, true
}

func (e *engine) validateTarget(f *Fault) error {
	switch f.Kind {
	case FaultRestart, FaultDropConnections:
		return nil
	case FaultDoorOpen, FaultCompressorFailure:
		if _, model, ok := e.resolveLine(f.Target); !ok || model != ModelColdRoom {
			return fmt.Errorf("fault %s: target %q is not a %s line or one of its tags", f.Kind, f.Target, ModelColdRoom)
		}
		return nil
	case FaultShelfRamp, FaultPressureRise, FaultEarlySecondary, FaultCondenserFailure:
		if _, model, ok := e.resolveLine(f.Target); !ok || model != ModelFreezeDryer {
			return fmt.Errorf("fault %s: target %q is not a %s line or one of its tags", f.Kind, f.Target, ModelFreezeDryer)
		}
		return nil
	}
	t, ok := e.resolveTag(f.Target)
	if !ok {
		return fmt.Errorf("fault %s: unknown target %q: use a node id like ns=2;s=filling1.filler.fill_weight", f.Kind, f.Target)
	}
	switch f.Kind {
	case FaultDrift, FaultStep, FaultVariance:
		if t.kind != kindDouble {
			return fmt.Errorf("fault %s: target %s is a %s tag; it needs an analog (Double) tag", f.Kind, t.id, t.kind)
		}
	case FaultRejectCreep:
		if t.kind != kindUInt32 || !strings.Contains(t.name, "reject") {
			return fmt.Errorf("fault reject_creep: target %s is not a reject counter", t.id)
		}
	case FaultStuck:
		if f.Value != nil && t.kind == kindString {
			return fmt.Errorf("fault stuck: target %s is a string tag; omit value to freeze it", t.id)
		}
	}
	return nil
}

// inject validates f and schedules it. Faults at or before the clock start
// at once; later ones at the first physics step at or after f.At.
func (e *engine) inject(f Fault) (FaultRecord, []action, error) {
	if err := f.validateShape(); err != nil {
		return FaultRecord{}, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.validateTarget(&f); err != nil {
		return FaultRecord{}, nil, err
	}
	e.nextID++
	f.ID = fmt.Sprintf("f%04d", e.nextID)
	f.At = f.At.UTC()
	var acts []action
	r := &FaultRecord{Fault: f}
	e.records = append(e.records, r)
	if f.At.IsZero() || !f.At.After(e.clock) {
		r.Fault.At = e.clock
		e.activate(r, e.clock, &acts)
		e.recompute()
	}
	return *r, acts, nil
}

func (e *engine) clear(id string) (FaultRecord, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.records {
		if r.Fault.ID == id {
			if r.End.IsZero() {
				if r.Start.IsZero() {
					r.Start = e.clock // cancelled before it started
				}
				r.End = e.clock
				e.recompute()
			}
			return *r, true
		}
	}
	return FaultRecord{}, false
}

func (e *engine) activate(r *FaultRecord, now time.Time, acts *[]action) {
	r.Start = now
	switch r.Fault.Kind {
	case FaultRestart:
		if !e.down {
			*acts = append(*acts, action{kind: actDown})
		}
		e.down = true
		e.downUntil = now.Add(time.Duration(r.Fault.Downtime))
		if !e.downUntil.After(now) {
			e.bringUp(now, acts)
		}
	case FaultDropConnections:
		*acts = append(*acts, action{kind: actDrop})
		r.End = now
	case FaultStuck:
		if t, ok := e.resolveTag(r.Fault.Target); ok {
			t.stickAt(r.Fault.Value, now)
		}
	case FaultHostile:
		if t, ok := e.resolveTag(r.Fault.Target); ok {
			t.ts = now // a new value, with its own source timestamp
		}
	}
}

func (e *engine) bringUp(now time.Time, acts *[]action) {
	e.down = false
	*acts = append(*acts, action{kind: actUp})
	for _, r := range e.records {
		if r.Fault.Kind == FaultRestart && r.End.IsZero() && !r.Start.IsZero() {
			r.End = now
		}
	}
}

// recompute rebuilds every tag's effects from the active faults.
func (e *engine) recompute() {
	for _, t := range e.tags {
		t.fx = nil
	}
	for _, f := range e.force {
		*f = forcing{}
	}
	for _, r := range e.records {
		if !r.Active() {
			continue
		}
		f := r.Fault
		switch f.Kind {
		case FaultDoorOpen, FaultCompressorFailure, FaultShelfRamp, FaultPressureRise, FaultEarlySecondary, FaultCondenserFailure:
			line, _, _ := e.resolveLine(f.Target)
			fc := e.force[line]
			switch f.Kind {
			case FaultDoorOpen:
				fc.doorOpen = true
			case FaultCompressorFailure:
				fc.compressorFail = true
			case FaultShelfRamp:
				fc.shelfRamp = f.Factor
			case FaultPressureRise:
				fc.pressureRise += f.Offset
			case FaultEarlySecondary:
				fc.earlySecondary = true
			case FaultCondenserFailure:
				fc.condenserFail = true
			}
			continue
		case FaultRestart, FaultDropConnections:
			continue
		}
		t, ok := e.resolveTag(f.Target)
		if !ok {
			continue
		}
		if t.fx == nil {
			t.fx = &effects{factor: 1}
		}
		switch f.Kind {
		case FaultDrift:
			t.fx.drifts = append(t.fx.drifts, rateSince{f.Rate, r.Start})
		case FaultStep:
			t.fx.step += f.Offset
		case FaultVariance:
			t.fx.factor *= f.Factor
		case FaultRejectCreep:
			t.fx.creeps = append(t.fx.creeps, rateSince{f.Rate, r.Start})
		case FaultStuck:
			t.fx.stuck = true
		case FaultStatus:
			t.fx.status, _ = parseStatus(f.Status)
		case FaultRemoveNode:
			t.fx.removed = true
		case FaultHostile:
			t.fx.hostile, t.fx.text = f.Hostile, f.Text
		}
	}
}

// advanceTo moves the clock to target, running every physics step on the way.
func (e *engine) advanceTo(target time.Time) []action {
	e.mu.Lock()
	defer e.mu.Unlock()
	var acts []action
	for next := e.tickAt.Add(stepSize); !next.After(target); next = e.tickAt.Add(stepSize) {
		e.tickAt = next
		e.clock = next
		e.tick(next, &acts)
	}
	if target.After(e.clock) {
		e.clock = target
	}
	return acts
}

func (e *engine) tick(now time.Time, acts *[]action) {
	changed := false
	for _, r := range e.records {
		if r.Start.IsZero() && !r.Fault.At.After(now) {
			*acts = append(*acts, action{kind: actStarted, rec: *r})
			e.activate(r, now, acts)
			changed = true
		}
		if r.Active() && r.Fault.Duration > 0 && r.Fault.Kind != FaultRestart &&
			!now.Before(r.Start.Add(time.Duration(r.Fault.Duration))) {
			r.End = now
			*acts = append(*acts, action{kind: actEnded, rec: *r})
			changed = true
		}
	}
	if changed {
		e.recompute()
	}
	for i, l := range e.lines {
		l.step(now, stepSize, e.force[lineIDOf(e.lines[i])])
	}
	if e.down && !now.Before(e.downUntil) {
		e.bringUp(now, acts)
	}
}

func (e *engine) now() time.Time {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.clock
}

func (e *engine) faultLog() []FaultRecord {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]FaultRecord, 0, len(e.records))
	for _, r := range e.records {
		out = append(out, *r)
	}
	slices.SortStableFunc(out, func(a, b FaultRecord) int { return a.Fault.At.Compare(b.Fault.At) })
	return out
}
