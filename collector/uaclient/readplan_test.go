package uaclient

import (
	"testing"

	"github.com/gopcua/opcua/ua"

	"github.com/linewatch/linewatch/simulator"
)

// A plan built once is reused across polls: it splits into chunks of the
// server's limit, keeps the order of ids and reports each node's status.
func TestReadPlanChunksKeepOrderAndIsReusable(t *testing.T) {
	ctx, cl, _ := dialSimulator(t, simulator.Options{ExtraTags: 7, MaxNodesPerRead: 3})

	ids := syntheticReadIDs(7)
	// A node the server does not have, in the middle of a chunk.
	ids = append(ids[:4], append([]*ua.ReadValueID{NewReadValueID(ua.NewStringNodeID(2, "no.such.node"))}, ids[4:]...)...)
	plan := NewReadPlan(ids, 3)
	if len(plan.enc) != 3 {
		t.Fatalf("plan has %d pre-encoded requests, want 3: this test proves them against a real server", len(plan.enc))
	}
	if plan.Len() != 8 {
		t.Fatalf("Len = %d, want 8", plan.Len())
	}
	var results []*ua.DataValue
	for poll := 0; poll < 2; poll++ {
		var calls int
		var err error
		results, calls, err = plan.Read(ctx, cl, results[:0])
		if err != nil {
			t.Fatalf("poll %d: %v", poll, err)
		}
		if calls != 3 || len(results) != 8 {
			t.Fatalf("poll %d: %d calls, %d results; want 3 calls (8 nodes by 3), 8 results", poll, calls, len(results))
		}
		for i, dv := range results {
			if i == 4 {
				if dv.Status != ua.StatusBadNodeIDUnknown {
					t.Errorf("poll %d: unknown node status = %v, want BadNodeIdUnknown", poll, dv.Status)
				}
				continue
			}
			if dv.Status != ua.StatusOK || dv.Value == nil {
				t.Errorf("poll %d: result %d = status %v value %v, want a Good value", poll, i, dv.Status, dv.Value)
			}
		}
	}
}
