package sample

import (
	"testing"
	"time"
)

func FuzzUnmarshalBatchEvent(f *testing.F) {
	f.Add([]byte(`{"v":1,"site":"s","line":"l","batch":"B1","event":"start","time":"2026-01-05T06:00:00Z"}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := UnmarshalBatchEvent(b)
		if err != nil {
			return
		}
		again, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := UnmarshalBatchEvent(again); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzBatchEventRoundTrip: any batch id and product code (control
// characters, bytes that are not UTF-8) survives the event's JSON exactly.
func FuzzBatchEventRoundTrip(f *testing.F) {
	f.Add("F1-20260105-001", "VAX-INJ-2ML")
	f.Add("(10)LOT\x1d42\\", "P\xff\x00")
	f.Add("", "%41")
	f.Fuzz(func(t *testing.T, batch, product string) {
		in := BatchEvent{V: BatchEventVersion, Site: "s", Line: "l", Batch: batch, Product: product, Event: BatchStart, Time: time.Unix(1, 0).UTC()}
		data, err := in.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := UnmarshalBatchEvent(data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if out != in {
			t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
		}
	})
}
