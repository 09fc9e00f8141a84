package uaclient

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

func TestEncodedReadRegistered(t *testing.T) {
	if !encodedReadOK {
		t.Fatal("encodedRead is not registered in gopcua's service registry: polls fall back to reflection encoding (did a gopcua upgrade move ua.svcreg?)")
	}
	if got := ua.ServiceTypeID((*encodedRead)(nil)); got != id.ReadRequest_Encoding_DefaultBinary {
		t.Fatalf("service id of encodedRead = %d, want %d (ReadRequest)", got, id.ReadRequest_Encoding_DefaultBinary)
	}
	// The plain request is unaffected.
	if got := ua.ServiceTypeID(&ua.ReadRequest{}); got != id.ReadRequest_Encoding_DefaultBinary {
		t.Fatalf("service id of ua.ReadRequest = %d, want %d", got, id.ReadRequest_Encoding_DefaultBinary)
	}
}

// The bytes of an encodedRead are those gopcua writes for the same
// ua.ReadRequest, whatever the header, and decode back to that request.
func TestEncodedReadMatchesGopcua(t *testing.T) {
	var ids []*ua.ReadValueID
	for i, n := range []*ua.NodeID{
		ua.NewStringNodeID(2, "line1.filler.fill_weight"),
		ua.NewNumericNodeID(0, 2258),
		ua.NewFourByteNodeID(3, 700),
		ua.NewStringNodeID(2, "ünïcode name with spaces"),
		ua.NewByteStringNodeID(4, []byte{1, 2, 3}),
	} {
		rv := NewReadValueID(n)
		if i == 2 {
			rv.IndexRange = "1:2"
		}
		ids = append(ids, rv)
	}
	headers := []*ua.RequestHeader{
		{AuthenticationToken: ua.NewTwoByteNodeID(0)},
		{AuthenticationToken: ua.NewByteStringNodeID(0, bytes.Repeat([]byte{0xab}, 32)), Timestamp: time.Date(2026, 11, 24, 8, 0, 0, 123456700, time.UTC),
			RequestHandle: 4711, TimeoutHint: 10000, AuditEntryID: "audit"},
	}
	for _, chunk := range []int{0, 2} {
		plan := NewReadPlan(ids, chunk)
		if len(plan.enc) != len(plan.reqs) {
			t.Fatalf("chunk %d: %d encoded requests for %d requests", chunk, len(plan.enc), len(plan.reqs))
		}
		for i, req := range plan.reqs {
			for _, h := range headers {
				plain := *req
				plain.RequestHeader = h
				want, err := ua.Encode(&plain)
				if err != nil {
					t.Fatal(err)
				}
				e := plan.enc[i]
				e.SetHeader(h)
				got, err := e.Encode()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("chunk %d request %d: encodedRead bytes\n%x\nwant gopcua's\n%x", chunk, i, got, want)
				}
				var back ua.ReadRequest
				if _, err := ua.Decode(got, &back); err != nil {
					t.Fatal(err)
				}
				if back.RequestHeader.RequestHandle != h.RequestHandle || len(back.NodesToRead) != len(req.NodesToRead) {
					t.Fatalf("decoded %+v", back)
				}
				for j, rv := range back.NodesToRead {
					if !reflect.DeepEqual(rv, req.NodesToRead[j]) {
						t.Fatalf("node %d decoded as %+v, want %+v", j, rv, req.NodesToRead[j])
					}
				}
			}
		}
	}
}

// The plan sends the pre-encoded request only when every id is prepared.
func TestReadPlanEncodesOnlyPreparedIDs(t *testing.T) {
	bare := []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(2, "x")}}
	if p := NewReadPlan(bare, 0); p.enc != nil {
		t.Fatal("a plan of ids without AttributeID must go through gopcua's Read")
	}
	if p := NewReadPlan([]*ua.ReadValueID{NewReadValueID(ua.NewStringNodeID(2, "x"))}, 0); len(p.enc) != 1 {
		t.Fatalf("prepared plan has %d encoded requests, want 1", len(p.enc))
	}
}

func BenchmarkEncodedRead1000(b *testing.B) {
	e := NewReadPlan(syntheticReadIDs(1000), 0).enc[0]
	e.SetHeader(&ua.RequestHeader{AuthenticationToken: ua.NewTwoByteNodeID(0)})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Encode(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/value")
}
