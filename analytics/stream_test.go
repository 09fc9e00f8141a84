package analytics

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var streamT0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

func sampleFinding() Finding {
	f := Finding{Time: streamT0, Site: "plant", Line: "filling1", Machine: "filler", Tag: "fill_weight", Detector: "limits", Rule: "hi",
		Active: true, Value: 2.1, Limit: 2.04, Severity: Critical, Message: "fill_weight above hi", Evidence: map[string]float64{"x": 1}}
	f.ID = MakeID(f)
	return f
}

func TestDecodeMessage(t *testing.T) {
	f := sampleFinding()
	v2, err := EncodeFinding(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(v2)
	if err != nil || m.Finding == nil || m.MachineState != nil {
		t.Fatalf("v2 finding: %+v, %v", m, err)
	}
	want := f
	want.V, want.Kind = StreamVersion, KindFinding
	if !reflect.DeepEqual(*m.Finding, want) {
		t.Fatalf("v2 finding decoded as %+v, want %+v", *m.Finding, want)
	}
	if !strings.Contains(string(v2), `"v":2`) || !strings.Contains(string(v2), `"kind":"finding"`) {
		t.Fatalf("v2 finding JSON lacks its version and kind: %s", v2)
	}

	// Version 1: a bare Finding without v or kind, as analytics wrote it
	// before machine states travelled on FINDINGS.
	v1, _ := json.Marshal(f)
	if strings.Contains(string(v1), `"v"`) {
		t.Fatalf("an in-process Finding carries a version: %s", v1)
	}
	m, err = DecodeMessage(v1)
	if err != nil || m.Finding == nil || !reflect.DeepEqual(*m.Finding, f) {
		t.Fatalf("v1 finding: %+v, %v", m, err)
	}
	// A v1 finding without an id gets the deterministic one.
	noID := f
	noID.ID = ""
	b, _ := json.Marshal(noID)
	if m, err = DecodeMessage(b); err != nil || m.Finding.ID != f.ID {
		t.Fatalf("v1 finding without id: %+v, %v", m, err)
	}

	ms := MachineState{Time: streamT0, Site: "plant", Line: "filling1", Machine: "filler", State: "cip"}
	b, err = EncodeMachineState(ms)
	if err != nil {
		t.Fatal(err)
	}
	m, err = DecodeMessage(b)
	ms.V, ms.Kind = StreamVersion, KindMachineState
	if err != nil || m.MachineState == nil || m.Finding != nil || *m.MachineState != ms {
		t.Fatalf("machine state: %+v, %v (JSON %s)", m, err, b)
	}

	for name, c := range map[string]struct {
		in   string
		want string
	}{
		"not JSON":             {`{"v":2`, "findings message"},
		"newer version":        {`{"v":3,"kind":"finding"}`, "upgrade the alerts workers"},
		"unknown kind":         {`{"v":2,"kind":"batch"}`, `unknown kind "batch"`},
		"finding without line": {`{"v":2,"kind":"finding","machine":"m","detector":"limits","time":"2026-11-23T06:00:00Z"}`, "line, machine, detector and time are required"},
		"v1 without time":      {`{"line":"l","machine":"m","detector":"limits"}`, "line, machine, detector and time are required"},
		"state without state":  {`{"v":2,"kind":"machine_state","line":"l","machine":"m"}`, "line, machine and state are required"},
		"bad field type":       {`{"v":2,"kind":"machine_state","line":1}`, "machine state (v=2)"},
	} {
		_, err := DecodeMessage([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
		if name == "newer version" && !errors.Is(err, ErrNewerVersion) {
			t.Errorf("newer version: %v is not ErrNewerVersion", err)
		}
	}
}

func TestMachineStateIDs(t *testing.T) {
	a := MachineState{Time: streamT0, Site: "plant", Line: "filling1", Machine: "filler", State: "cip"}
	b := a
	if a.ID() != b.ID() {
		t.Fatal("same change, different ids")
	}
	for _, c := range []MachineState{
		{Time: streamT0.Add(time.Nanosecond), Site: "plant", Line: "filling1", Machine: "filler", State: "cip"},
		{Time: streamT0, Site: "plant", Line: "filling1", Machine: "filler", State: "stopped"},
		{Time: streamT0, Site: "plant", Line: "filling1", Machine: "filler2", State: "cip"},
		{Time: streamT0, Site: "plant", Line: "filling", Machine: "1filler", State: "cip"}, // no ambiguous concatenation
	} {
		if c.ID() == a.ID() {
			t.Errorf("%+v has the id of %+v", c, a)
		}
	}
}

// Whatever a FINDINGS message holds, decoding never panics, and what
// decodes encodes to a message that decodes to the same thing.
func FuzzDecodeMessage(f *testing.F) {
	v2, _ := EncodeFinding(sampleFinding())
	v1, _ := json.Marshal(sampleFinding())
	st, _ := EncodeMachineState(MachineState{Time: streamT0, Line: "l", Machine: "m", State: "stopped\x00é"})
	for _, s := range [][]byte{v2, v1, st, []byte(`{"v":3}`), []byte(`{"v":-1,"kind":"machine_state"}`), []byte(`null`), []byte(`[]`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		var again []byte
		switch {
		case m.Finding != nil && m.MachineState == nil:
			again, err = EncodeFinding(*m.Finding)
		case m.MachineState != nil && m.Finding == nil:
			again, err = EncodeMachineState(*m.MachineState)
		default:
			t.Fatalf("decoded %q to %+v: want exactly one kind", b, m)
		}
		if err != nil {
			return // a value JSON cannot encode (NaN in a finding): refused, not lost silently
		}
		m2, err := DecodeMessage(again)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", again, err)
		}
		if m.Finding != nil {
			a, b := *m.Finding, *m2.Finding
			a.V, a.Kind, b.V, b.Kind = 0, "", 0, ""
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Fatalf("finding changed through encode/decode:\n%s\n%s", ja, jb)
			}
		} else {
			a, b := *m.MachineState, *m2.MachineState
			a.V, a.Kind, b.V, b.Kind = 0, "", 0, ""
			if !a.Time.Equal(b.Time) || a.Site != b.Site || a.Line != b.Line || a.Machine != b.Machine || a.State != b.State {
				t.Fatalf("machine state changed through encode/decode: %+v → %+v", a, b)
			}
		}
	})
}
