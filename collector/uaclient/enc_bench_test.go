package uaclient

import (
	"testing"

	"github.com/gopcua/opcua/ua"
)

// BenchmarkEncodeRead1000 isolates gopcua's cost of encoding one Read
// request of 1 000 string node ids (the floor of the poll path's CPU).
func BenchmarkEncodeRead1000(b *testing.B) {
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, RequestHeader: &ua.RequestHeader{AuthenticationToken: ua.NewTwoByteNodeID(0)},
		NodesToRead: syntheticReadIDs(1000)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ua.Encode(req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/value")
}
