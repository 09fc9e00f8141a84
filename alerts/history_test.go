package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
)

// TestHistoryPagesIntegration: 1 300 transitions on ALARMS (three chunks
// of stream sequences) paged back newest first with the operator role's
// permissions: pages do not overlap, together they are every matching
// transition once, a search with few hits spans chunks, MaxScan bounds a
// search and Since stops it.
func TestHistoryPagesIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	dataDir := t.TempDir()
	srv := testenv.SecureNATS(t, dataDir)
	_, ajs := testenv.RoleConn(t, srv.ClientURL(), dataDir, bus.RoleAlerts)
	_, ojs := testenv.RoleConn(t, srv.ClientURL(), dataDir, bus.RoleOperator)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, ajs, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 1300
	pub := func(i int, line string) {
		id := fmt.Sprintf("plant1/%s/m/t%d/limits/hi", line, i%7)
		tr := Transition{V: SchemaVersion, ID: TransitionID(id, uint64(i)), Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Second),
			Event: EvActivate, From: Normal, To: Unacknowledged, Alarm: Alarm{ID: id, Line: line, Tag: fmt.Sprintf("t%d", i%7), Message: fmt.Sprintf("event %d", i)}}
		b, _ := json.Marshal(tr)
		if _, err := ajs.Publish(ctx, bus.AlarmSubject("plant1", line, "high"), b, jetstream.WithMsgID(tr.ID)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= n; i++ {
		line := "L1"
		if i%100 == 0 {
			line = "L2" // 13 transitions on L2
		}
		pub(i, line)
	}
	rd := NewReader(ojs)

	// Every transition of the site, 200 a page.
	var all []HistoryItem
	pages := 0
	for before := uint64(0); ; pages++ {
		p, err := rd.History(ctx, HistoryQuery{Site: "plant1", Before: before, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Items...)
		if p.Next == 0 {
			break
		}
		if p.Next >= before && before != 0 {
			t.Fatalf("cursor did not move back: %d after %d", p.Next, before)
		}
		before = p.Next
	}
	if len(all) != n || pages != 6 {
		t.Fatalf("paged %d transitions in %d pages, want %d in 7", len(all), pages+1, n)
	}
	for i, it := range all {
		if want := fmt.Sprintf("event %d", n-i); it.Alarm.Message != want || it.Seq != uint64(n-i) {
			t.Fatalf("item %d = %q seq %d, want %q seq %d (newest first, no gaps or repeats)", i, it.Alarm.Message, it.Seq, want, n-i)
		}
	}

	// A line filter and a text search with few hits span all chunks.
	p, err := rd.History(ctx, HistoryQuery{Site: "plant1", Line: "L2", Limit: 5})
	if err != nil || len(p.Items) != 5 || p.Items[0].Alarm.Message != "event 1300" || p.Next != p.Items[4].Seq {
		t.Fatalf("L2 page 1: %+v %v", p, err)
	}
	p, err = rd.History(ctx, HistoryQuery{Site: "plant1", Line: "L2", Limit: 50, Before: p.Next})
	if err != nil || len(p.Items) != 8 || p.Items[7].Alarm.Message != "event 100" || p.Next != 0 {
		t.Fatalf("L2 page 2: %d items, next %d, %v", len(p.Items), p.Next, err)
	}
	match := func(tr Transition) bool { return strings.HasSuffix(tr.Alarm.Message, " 7") }
	if p, err := rd.History(ctx, HistoryQuery{Site: "plant1", Match: match}); err != nil || len(p.Items) != 1 || p.Items[0].Seq != 7 || p.Scanned != n {
		t.Fatalf("search: %+v %v", p, err)
	}
	// MaxScan: a search stops after a bounded read and says where to go on.
	if p, err := rd.History(ctx, HistoryQuery{Site: "plant1", Match: match, MaxScan: 600}); err != nil || len(p.Items) != 0 || p.Next != n-1024+1 {
		t.Fatalf("bounded search: %d items, next %d, scanned %d, %v", len(p.Items), p.Next, p.Scanned, err)
	}
	// Since in the future: nothing, and no cursor.
	if p, err := rd.History(ctx, HistoryQuery{Site: "plant1", Since: time.Now().Add(time.Hour)}); err != nil || len(p.Items) != 0 || p.Next != 0 {
		t.Fatalf("since: %+v %v", p, err)
	}
	// Another site: nothing.
	if p, err := rd.History(ctx, HistoryQuery{Site: "plant2"}); err != nil || len(p.Items) != 0 || p.Next != 0 {
		t.Fatalf("other site: %+v %v", p, err)
	}
}
