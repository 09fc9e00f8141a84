package analytics

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StreamVersion is the schema version of the messages analytics publishes
// on stream FINDINGS (bus.FindingSubject, bus.MachineStateSubject) for
// alerts workers in other processes. Version 1 messages carry no "v": each
// is a bare Finding. Version 2 adds "v" and "kind" and the machine-state
// message. DecodeMessage reads both; docs/schemas.md documents them.
const StreamVersion = 2

// Kinds of message on FINDINGS (the "kind" field).
const (
	KindFinding      = "finding"
	KindMachineState = "machine_state"
)

// MachineState is a change of a machine's state as its machine_state tag
// reports it. States in alarms.suppress_when_state suppress the machine's
// alarms by design, so a change travels on FINDINGS, in order with the
// findings around it.
type MachineState struct {
	V       int       `json:"v"`
	Kind    string    `json:"kind"`
	Time    time.Time `json:"time"` // source timestamp of the sample that changed it
	Site    string    `json:"site,omitempty"`
	Line    string    `json:"line"`
	Machine string    `json:"machine"`
	State   string    `json:"state"`
}

// ID is deterministic, so a change republished after a restart (the same
// sample processed again) is dropped by the stream's duplicate window.
func (m MachineState) ID() string {
	h := sha256.New()
	for _, s := range []string{m.Site, m.Line, m.Machine, m.State, m.Time.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(s + "\x00"))
	}
	return "state-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// Message is one decoded message of FINDINGS: exactly one field is set.
type Message struct {
	Finding      *Finding
	MachineState *MachineState
}

// EncodeFinding is the FINDINGS message of f (version StreamVersion).
func EncodeFinding(f Finding) ([]byte, error) {
	f.V, f.Kind = StreamVersion, KindFinding
	return json.Marshal(f)
}

// EncodeMachineState is the FINDINGS message of m (version StreamVersion).
func EncodeMachineState(m MachineState) ([]byte, error) {
	m.V, m.Kind = StreamVersion, KindMachineState
	return json.Marshal(m)
}

// ErrNewerVersion: a message of a schema version this reader does not
// know (an analytics process newer than the alerts worker).
var ErrNewerVersion = errors.New("message schema version newer than this reader: upgrade the alerts workers before analytics")

// DecodeMessage reads a FINDINGS message of any version up to
// StreamVersion: an unversioned message is a version 1 Finding.
func DecodeMessage(b []byte) (Message, error) {
	var head struct {
		V    int    `json:"v"`
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Message{}, fmt.Errorf("findings message: %w", err)
	}
	if head.V > StreamVersion {
		return Message{}, fmt.Errorf("findings message v=%d (this reader knows up to %d): %w", head.V, StreamVersion, ErrNewerVersion)
	}
	kind := head.Kind
	if head.V <= 1 {
		kind = KindFinding // version 1: a bare Finding, whatever it says
	}
	switch kind {
	case KindFinding:
		var f Finding
		if err := json.Unmarshal(b, &f); err != nil {
			return Message{}, fmt.Errorf("finding (v=%d): %w", head.V, err)
		}
		if f.Line == "" || f.Machine == "" || f.Detector == "" || f.Time.IsZero() {
			return Message{}, fmt.Errorf("finding (v=%d) %q: line, machine, detector and time are required", head.V, f.ID)
		}
		if f.ID == "" {
			f.ID = MakeID(f)
		}
		return Message{Finding: &f}, nil
	case KindMachineState:
		var m MachineState
		if err := json.Unmarshal(b, &m); err != nil {
			return Message{}, fmt.Errorf("machine state (v=%d): %w", head.V, err)
		}
		if m.Line == "" || m.Machine == "" || m.State == "" {
			return Message{}, fmt.Errorf("machine state (v=%d) of %q/%q: line, machine and state are required", head.V, m.Line, m.Machine)
		}
		return Message{MachineState: &m}, nil
	}
	return Message{}, fmt.Errorf("findings message v=%d: unknown kind %q (want %s or %s)", head.V, head.Kind, KindFinding, KindMachineState)
}
