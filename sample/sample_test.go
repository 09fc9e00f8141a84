package sample

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBatchRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC)
	in := []Sample{
		{Time: ts, Site: "plant1", Line: "filling1", Machine: "filler", Tag: "fill_weight", Unit: "g", Value: 2.0013, Batch: "B-1042"},
		{Time: ts, Site: "plant1", Line: "filling1", Machine: "filler", Tag: "state", Text: "running", Batch: "B-1042"},
		{Time: ts.Add(time.Second), Site: "plant1", Line: "filling1", Machine: "filler", Tag: "fill_weight", Unit: "g", Value: 0, Status: 0x80340000, Batch: "B-1042"},
	}
	data, err := NewBatch(in).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Samples(nil); !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, in)
	}
	if q := b.Samples(nil)[2].Quality(); q != Bad {
		t.Errorf("BadNodeIdUnknown read back as %v", q)
	}
}

func TestUnmarshalRefusesOtherVersions(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"v":3,"values":[]}`, "schema version 3 not supported"},
		{`{"v":2,"values":[{"t":"2026-11-23T08:00:00Z","nf":"Infinity"}]}`, "nf"},
		{`{"v":2,"values":[{"t":"2026-11-23T08:00:00Z","v":"NaN"}]}`, "telemetry message"},
		{`{"v":2,"batch_pct":"%zz","values":[]}`, "batch_pct"},
		{`{"values":[]}`, "schema version 0 not supported"},
		{`{"v":1,"values":[{"t":"yesterday"}]}`, "telemetry message"},
		{`[]`, "telemetry message"},
	} {
		if _, err := Unmarshal([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unmarshal(%s) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

// FuzzUnmarshal: any input is refused or decodes to a batch that survives
// a re-encoding unchanged.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"v":1,"site":"s","line":"l","machine":"m","batch":"B1","values":[{"t":"2026-11-23T08:00:00Z","tag":"x","v":1.5,"q":2147483648}]}`))
	f.Add([]byte(`{"v":1,"values":[{"t":"2026-11-23T08:00:00.5+01:00","tag":"s","s":"running"}]}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Unmarshal(data)
		if err != nil {
			return
		}
		again, err := b.Marshal()
		if err != nil {
			return // e.g. a time outside RFC 3339's years: refused on the way out, never silently changed
		}
		b2, err := Unmarshal(again)
		if err != nil {
			t.Fatalf("re-encoded batch refused: %v\n%s", err, again)
		}
		s1, s2 := b.Samples(nil), b2.Samples(nil)
		if len(s1) != len(s2) {
			t.Fatalf("%d samples, %d after re-encoding", len(s1), len(s2))
		}
		for i := range s1 {
			if !s1[i].Time.Equal(s2[i].Time) || s1[i].Tag != s2[i].Tag || s1[i].Status != s2[i].Status || s1[i].Text != s2[i].Text ||
				(s1[i].Value != s2[i].Value && s1[i].Value == s1[i].Value) {
				t.Fatalf("sample %d changed: %+v → %+v", i, s1[i], s2[i])
			}
		}
	})
}
