package simulator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"
)

// FaultKind names a fault scenario (the JSON/YAML "kind").
type FaultKind string

// Fault kinds. See docs/simulator.md for the parameters each one takes.
const (
	FaultDrift             FaultKind = "drift"              // Rate: units per simulated hour added to the process mean
	FaultStep              FaultKind = "step"               // Offset: units added to the process mean
	FaultVariance          FaultKind = "variance"           // Factor: multiplies the noise standard deviation
	FaultRejectCreep       FaultKind = "reject_creep"       // Rate: reject fraction added per simulated hour
	FaultDoorOpen          FaultKind = "door_open"          // cold room door held open for Duration
	FaultCompressorFailure FaultKind = "compressor_failure" // cold room compressor off for Duration
	FaultStuck             FaultKind = "stuck"              // sensor output frozen (at Value, or at its last value)
	FaultStatus            FaultKind = "status"             // node reports Status (e.g. BadSensorFailure)
	FaultRemoveNode        FaultKind = "remove_node"        // node disappears: BadNodeIdUnknown
	FaultRestart           FaultKind = "restart"            // server stops, comes back after Downtime on the same port
	FaultDropConnections   FaultKind = "drop_connections"   // every client socket is closed
	FaultHostile           FaultKind = "hostile"            // node reads a hostile value (Hostile: nan, gs1, invalid_utf8, …)

	// Deviating freeze-dryer cycles (target: a freeze_dryer line).
	FaultShelfRamp        FaultKind = "shelf_ramp"        // Factor: multiplies the shelf ramp durations (> 1 slow, < 1 fast)
	FaultPressureRise     FaultKind = "pressure_rise"     // Offset: µbar added to the chamber pressure in primary drying
	FaultEarlySecondary   FaultKind = "early_secondary"   // primary drying ends when the fault starts
	FaultCondenserFailure FaultKind = "condenser_failure" // condenser refrigeration off: it warms, vapour raises the pressure
)

var faultKinds = []FaultKind{FaultDrift, FaultStep, FaultVariance, FaultRejectCreep, FaultDoorOpen,
	FaultCompressorFailure, FaultStuck, FaultStatus, FaultRemoveNode, FaultRestart, FaultDropConnections, FaultHostile,
	FaultShelfRamp, FaultPressureRise, FaultEarlySecondary, FaultCondenserFailure}

// Fault is one injected fault. Target is a node id ("ns=2;s=filling1.filler.fill_weight")
// or its string part ("filling1.filler.fill_weight"); door_open and
// compressor_failure also accept a line ("coldroom1"). At zero means now;
// Duration zero means until cleared.
type Fault struct {
	ID       string    `json:"id,omitempty" yaml:"id,omitempty"`
	Kind     FaultKind `json:"kind" yaml:"kind"`
	Target   string    `json:"target,omitempty" yaml:"target,omitempty"`
	At       time.Time `json:"at,omitzero" yaml:"-"`
	Duration Duration  `json:"duration,omitempty" yaml:"duration,omitempty"`
	Rate     float64   `json:"rate,omitempty" yaml:"rate,omitempty"`
	Offset   float64   `json:"offset,omitempty" yaml:"offset,omitempty"`
	Factor   float64   `json:"factor,omitempty" yaml:"factor,omitempty"`
	Value    *float64  `json:"value,omitempty" yaml:"value,omitempty"`
	Status   string    `json:"status,omitempty" yaml:"status,omitempty"`
	Downtime Duration  `json:"downtime,omitempty" yaml:"downtime,omitempty"`
	Hostile  string    `json:"hostile,omitempty" yaml:"hostile,omitempty"` // kind hostile: which value (HostileNaN, …)
	Text     string    `json:"text,omitempty" yaml:"text,omitempty"`       // hostile "text": the string to send
}

// FaultRecord is a fault with the simulated times it took effect and ended
// (End zero while active). Start is the first simulated instant at which a
// client can observe the fault.
type FaultRecord struct {
	Fault Fault     `json:"fault"`
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// Active reports whether the fault has started and not ended.
func (r FaultRecord) Active() bool { return !r.Start.IsZero() && r.End.IsZero() }

// validateShape checks what can be checked without the plant.
func (f *Fault) validateShape() error {
	known := false
	for _, k := range faultKinds {
		if f.Kind == k {
			known = true
		}
	}
	if !known {
		names := make([]string, len(faultKinds))
		for i, k := range faultKinds {
			names[i] = string(k)
		}
		return fmt.Errorf("unknown fault kind %q: use one of %s", f.Kind, strings.Join(names, ", "))
	}
	needsTarget := f.Kind != FaultRestart && f.Kind != FaultDropConnections
	if needsTarget && f.Target == "" {
		return fmt.Errorf("fault %s needs a target (node id or line.machine.tag)", f.Kind)
	}
	if !needsTarget && f.Target != "" {
		return fmt.Errorf("fault %s takes no target, got %q", f.Kind, f.Target)
	}
	switch f.Kind {
	case FaultDrift, FaultRejectCreep:
		if f.Rate == 0 {
			return fmt.Errorf("fault %s on %s needs a non-zero rate (per simulated hour)", f.Kind, f.Target)
		}
	case FaultStep:
		if f.Offset == 0 {
			return fmt.Errorf("fault step on %s needs a non-zero offset", f.Target)
		}
	case FaultShelfRamp:
		if !(f.Factor > 0 && f.Factor <= 100) || f.Factor == 1 {
			return fmt.Errorf("fault shelf_ramp on %s needs factor in (0,100], not 1 (multiplies the ramp durations), got %v", f.Target, f.Factor)
		}
	case FaultPressureRise:
		if f.Offset == 0 {
			return fmt.Errorf("fault pressure_rise on %s needs a non-zero offset (µbar)", f.Target)
		}
	case FaultVariance:
		if f.Factor <= 0 {
			return fmt.Errorf("fault variance on %s needs factor > 0 (multiplies the noise sd), got %v", f.Target, f.Factor)
		}
	case FaultStatus:
		if _, err := parseStatus(f.Status); err != nil {
			return fmt.Errorf("fault status on %s: %w", f.Target, err)
		}
	case FaultHostile:
		if err := validHostile(f.Hostile, f.Text); err != nil {
			return fmt.Errorf("fault hostile on %s: %w", f.Target, err)
		}
	}
	return nil
}

// parseStatus accepts an OPC UA status code name ("BadSensorFailure",
// "UncertainLastUsableValue") or a number ("0x808B0000").
func parseStatus(s string) (ua.StatusCode, error) {
	if s == "" {
		return 0, errors.New("missing status: give a status code name like BadSensorFailure or a number like 0x808B0000")
	}
	if n, err := strconv.ParseUint(s, 0, 32); err == nil {
		return ua.StatusCode(n), nil
	}
	norm := func(n string) string { return strings.ToLower(strings.TrimPrefix(n, "Status")) }
	want := norm(s)
	for code, d := range ua.StatusCodes {
		if norm(d.Name) == want {
			return code, nil
		}
	}
	return 0, fmt.Errorf("unknown status code %q: use an OPC UA name like BadSensorFailure or a number", s)
}
