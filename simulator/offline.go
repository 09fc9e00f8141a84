package simulator

import (
	"fmt"
	"time"

	"github.com/linewatch/linewatch/sample"
)

// Offline is the plant's physics without a server, socket or wall clock:
// the same engine `linewatch simulate` serves, stepped as fast as the CPU
// allows. Tests and benchmarks use it to produce days of simulated data
// in seconds (the batch-evolution tests generate their freeze-dryer cycles
// with it). It is not safe for concurrent use.
type Offline struct {
	e *engine
}

// NewOffline builds the plant at start with seed (as Options.Seed and
// Options.Start of Start).
func NewOffline(p *Plant, seed int64, start time.Time) (*Offline, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	e, err := newEngine(p, seed, start.UTC(), 0)
	if err != nil {
		return nil, err
	}
	return &Offline{e: e}, nil
}

// Inject schedules a fault, as Simulator.InjectFault does (At zero: now).
// Server faults (restart, drop_connections) are accepted and do nothing.
func (o *Offline) Inject(f Fault) (FaultRecord, error) {
	r, _, err := o.e.inject(f)
	return r, err
}

// AdvanceTo runs every physics step up to t.
func (o *Offline) AdvanceTo(t time.Time) { o.e.advanceTo(t) }

// Now is the simulated time.
func (o *Offline) Now() time.Time { return o.e.now() }

// Read returns what a client reading node id (line.machine.tag) would get
// now, as the collector would publish it for site, stamped with batch.
// Non-double values come as Value (counters, booleans) or Text (strings).
func (o *Offline) Read(id, site, batch string) (sample.Sample, error) {
	t, ok := o.e.byID[id]
	if !ok {
		return sample.Sample{}, fmt.Errorf("simulator: no node %q", id)
	}
	s := sample.Sample{Time: t.ts, Site: site, Line: t.line, Machine: t.machine, Tag: t.name, Batch: batch}
	switch t.kind {
	case kindDouble:
		s.Value = t.f
	case kindUInt32:
		s.Value = float64(t.u)
	case kindBool:
		if t.b {
			s.Value = 1
		}
	case kindString:
		s.Text = t.s
	}
	return s, nil
}
