package uaclient

import (
	"fmt"
	"testing"

	"github.com/gopcua/opcua/ua"
)

// BenchmarkEncodeRead1000 isolates gopcua's cost of encoding one Read
// request of 1 000 string node ids (the floor of the poll path's CPU).
func BenchmarkEncodeRead1000(b *testing.B) {
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, RequestHeader: &ua.RequestHeader{AuthenticationToken: ua.NewTwoByteNodeID(0)}}
	for i := 1; i <= 1000; i++ {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: ua.NewStringNodeID(2, fmt.Sprintf("synthetic.load.tag%05d", i)),
			AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ua.Encode(req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/value")
}
