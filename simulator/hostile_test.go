package simulator

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Every hostile kind reaches a real OPC UA client over the socket as the
// value it names, on a numeric tag and on the batch id; clearing the fault
// brings the process value back.
func TestHostileValuesOverTheWire(t *testing.T) {
	s := startSim(t, Options{AllowAnonymous: true})
	c := mustDial(t, s)
	const num, bid = "filling1.filler.fill_weight", "filling1.filler.batch_id"
	for _, tc := range []struct {
		kind, target, text string
		check              func(v any) bool
	}{
		{HostileNaN, num, "", func(v any) bool { f, ok := v.(float64); return ok && math.IsNaN(f) }},
		{HostilePosInf, num, "", func(v any) bool { return v == math.Inf(1) }},
		{HostileNegInf, num, "", func(v any) bool { return v == math.Inf(-1) }},
		{HostileSubnormal, num, "", func(v any) bool { return v == math.SmallestNonzeroFloat64 }},
		{HostileArray, num, "", func(v any) bool { a, ok := v.([]float64); return ok && len(a) == 3 && math.IsNaN(a[1]) }},
		{HostileNull, num, "", func(v any) bool { return v == nil }},
		{HostileWrongType, num, "", func(v any) bool { return v == "12.5 °C" }},
		{HostileWrongType, bid, "", func(v any) bool { return v == 42.5 }},
		{HostileControlChars, bid, "", func(v any) bool { return v == HostileControlText }},
		{HostileGS1, bid, "", func(v any) bool { return v == HostileGS1Text }},
		{HostileInvalidUTF8, bid, "", func(v any) bool { return v == HostileUTF8Text }},
		{HostileText, bid, "LOT\x1d7\\", func(v any) bool { return v == "LOT\x1d7\\" }},
		{HostileHugeString, bid, "", func(v any) bool { x, ok := v.(string); return ok && len(x) == HugeStringBytes }},
	} {
		rec, err := s.InjectFault(Fault{Kind: FaultHostile, Target: tc.target, Hostile: tc.kind, Text: tc.text})
		if err != nil {
			t.Fatalf("%s on %s: %v", tc.kind, tc.target, err)
		}
		dv := readOne(t, c, tc.target)
		var v any
		if dv.Value != nil {
			v = dv.Value.Value()
		}
		if !tc.check(v) || dv.Status != 0 {
			t.Errorf("%s on %s: read %.80v status %v", tc.kind, tc.target, fmt.Sprint(v), dv.Status)
		}
		if _, err := s.ClearFault(rec.Fault.ID); err != nil {
			t.Fatalf("clear %s: %v", rec.Fault.ID, err)
		}
	}
	if w := readFloat(t, c, num); math.IsNaN(w) || w <= 0 {
		t.Errorf("fill weight after clearing: %v", w)
	}
	for _, f := range []Fault{
		{Kind: FaultHostile, Target: num, Hostile: "bogus"},
		{Kind: FaultHostile, Target: num},
		{Kind: FaultHostile, Target: num, Hostile: HostileText},
	} {
		if _, err := s.InjectFault(f); err == nil || !strings.Contains(err.Error(), "hostile") {
			t.Errorf("%+v: error %v, want one naming the hostile value", f, err)
		}
	}
}
