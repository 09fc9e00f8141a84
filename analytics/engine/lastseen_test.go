package engine

import (
	"encoding/json"
	"maps"
	"testing"
	"time"
)

// The newest source timestamps survive Snapshot and Restore exactly,
// whatever the keys hold (no '/', one, a tag with '/'), and equal states
// save equal bytes.
func TestLastSeenSurvivesRestore(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 123000000, time.UTC)
	last := map[string]time.Time{
		"filling1/filler/fill_weight": t0,
		"filling1/filler/speed":       t0,
		"filling1/capper/torque":      t0,
		"filling1/filler/late":        t0.Add(time.Second),
		"coldroom1/coldroom/temp":     t0,
		"filling1/filler/a/b":         t0,
		"nolineormachine":             t0.Add(2 * time.Second),
		"only/one":                    t0,
		"":                            t0,
	}
	e := demoEngine(t)
	maps.Copy(e.lastTime, last)
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := e.Snapshot()
	if string(again) != string(snap) {
		t.Fatal("two snapshots of one state differ")
	}
	r := demoEngine(t)
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(r.lastTime, last, time.Time.Equal) {
		t.Fatalf("restored %v\nwant %v", r.lastTime, last)
	}
	var st state
	if err := json.Unmarshal(snap, &st); err != nil {
		t.Fatal(err)
	}
	// t0: "", "coldroom1/coldroom/", "filling1/capper/", "filling1/filler/";
	// t0+1 s: "filling1/filler/"; t0+2 s: "".
	if st.LastTime != nil || len(st.LastSeen) != 6 {
		t.Fatalf("saved last_time %v and %d last_seen groups, want none and 6 (by time, then line/machine)", st.LastTime, len(st.LastSeen))
	}
	if g := st.LastSeen[0]; !g.Time.Equal(t0) || g.Prefix != "" || len(g.Keys) != 2 || g.Keys[0] != "" || g.Keys[1] != "only/one" {
		t.Fatalf("first group %+v, want t0, no prefix, keys \"\" and only/one", g)
	}
	if g := st.LastSeen[3]; g.Prefix != "filling1/filler/" || len(g.Keys) != 3 || g.Keys[0] != "a/b" || g.Keys[2] != "speed" {
		t.Fatalf("fourth group %+v, want filling1/filler/ with a/b, fill_weight, speed", g)
	}
}

// A checkpoint written before last_seen (a map "last_time") still
// restores, keeping only the keys of the engine's line.
func TestRestoresLastTimeOfEarlierCheckpoints(t *testing.T) {
	old := []byte(`{"v":1,"detectors":{},"last_time":{"filling1/filler/fill_weight":"2026-12-06T08:00:00Z","coldroom1/coldroom/temp":"2026-12-06T08:00:01Z"}}`)
	e := demoEngine(t)
	e.opts.Line = "filling1"
	if err := e.Restore(old); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"filling1/filler/fill_weight": time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)}
	if !maps.EqualFunc(e.lastTime, want, time.Time.Equal) {
		t.Fatalf("restored %v, want %v", e.lastTime, want)
	}
}
