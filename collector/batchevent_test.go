package collector

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

func TestBatchStartEndAndContext(t *testing.T) {
	l := &config.Line{ID: "filling1", BatchTag: "filler/batch_id", Machines: []config.Machine{
		{ID: "filler", Tags: []config.Tag{{Name: "batch_id", Role: "batch_id"}, {Name: "product_code", Role: "product_code"}, {Name: "fill_weight"}}},
		{ID: "checkweigher", Tags: []config.Tag{{Name: "good_count"}}},
	}}
	b := newLineBatch("site1", l)
	t0 := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	read := func(batch, product string, status uint32, at time.Time) ([]sample.BatchEvent, []sample.Sample) {
		ss := []sample.Sample{
			{Machine: "filler", Tag: "batch_id", Text: batch, Status: status, Time: at},
			{Machine: "filler", Tag: "product_code", Text: product, Time: at},
			{Machine: "filler", Tag: "fill_weight", Value: 2, Time: at},
		}
		return b.observe("filler", ss), ss
	}
	evs, ss := read("B1", "AMOX", 0, t0)
	if len(evs) != 1 || evs[0].Event != sample.BatchStart || evs[0].Batch != "B1" || evs[0].Product != "AMOX" || !evs[0].Time.Equal(t0) {
		t.Fatalf("first observation: %+v", evs)
	}
	if ss[2].Batch != "B1" {
		t.Fatalf("sample batch %q", ss[2].Batch)
	}
	other := []sample.Sample{{Machine: "checkweigher", Tag: "good_count", Value: 5}}
	if evs := b.observe("checkweigher", other); len(evs) != 0 || other[0].Batch != "B1" {
		t.Fatalf("other machine: %+v %+v", evs, other)
	}
	// A bad read of the batch tag does not end the batch.
	if evs, _ := read("", "AMOX", 0x80000000, t0.Add(time.Second)); len(evs) != 0 {
		t.Fatalf("bad batch read produced %+v", evs)
	}
	evs, ss = read("B2", "PARA", 0, t0.Add(time.Minute))
	if len(evs) != 2 || evs[0].Event != sample.BatchEnd || evs[0].Batch != "B1" || evs[0].Product != "AMOX" ||
		evs[1].Event != sample.BatchStart || evs[1].Batch != "B2" || evs[1].Product != "PARA" {
		t.Fatalf("change: %+v", evs)
	}
	if ss[2].Batch != "B2" {
		t.Fatal("samples of the read that started B2 must carry B2")
	}
	evs, ss = read("", "PARA", 0, t0.Add(2*time.Minute))
	if len(evs) != 1 || evs[0].Event != sample.BatchEnd || evs[0].Batch != "B2" || ss[2].Batch != "" {
		t.Fatalf("end without successor: %+v", evs)
	}
}

func FuzzResolveNodeID(f *testing.F) {
	for _, s := range []string{"ns=2;s=filling1.filler.fill_weight", "i=85", "nsu=urn:plant;s=Temp", "nsu=;", "ns=x;i=1", "g=zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := resolveNodeID(s, []string{"http://opcfoundation.org/UA/", "urn:sim", "urn:plant"})
		if err == nil && id == nil {
			t.Fatal("nil id without error")
		}
	})
}
