package console_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
)

// rowsOf reads /api/alarms as the client's user and returns its rows by key.
func rowsOf(t *testing.T, c *client) map[string]map[string]any {
	t.Helper()
	code, m, _ := c.do("GET", "/api/alarms", nil)
	if code != 200 {
		t.Fatalf("GET /api/alarms: %d %v", code, m)
	}
	out := map[string]map[string]any{}
	list, _ := m["rows"].([]any)
	for _, x := range list {
		r := x.(map[string]any)
		out[r["key"].(string)] = r
	}
	return out
}

// waitRow polls /api/alarms until the row of key satisfies ok (the
// console's feed from the real NATS server is asynchronous).
func waitRow(t *testing.T, c *client, key string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := rowsOf(t, c)[key]
		if r != nil && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("row %s: %v", key, r)
		}
		time.Sleep(20 * time.Millisecond) // polling a real server
	}
}

func actionIDs(r map[string]any, verb string) []string {
	acts, _ := r["actions"].(map[string]any)
	var out []string
	for _, x := range acts[verb].([]any) {
		out = append(out, x.(string))
	}
	return out
}

func hasAction(r map[string]any, verb string) bool {
	acts, _ := r["actions"].(map[string]any)
	_, ok := acts[verb]
	return ok
}

// TestSummaryOneRowPerConditionAndRoleActions: hi and hihi of one tag are
// one row led by the hihi (values in the tag's unit and decimals, times in
// the site zone); each role is offered exactly what alerts.Actions allows
// (an operator no Shelve on a row holding an urgent level, a viewer
// nothing, a supervisor Shelve for both levels).
func TestSummaryOneRowPerConditionAndRoleActions(t *testing.T) {
	r := startConsole(t, rigOpts{cfg: testConfig()})
	hi := r.svc.place(alerts.Alarm{ID: "plant1/L1/filler/weight/limits/hi", Line: "L1", Machine: "filler", Tag: "weight", Detector: "limits", Rule: "hi",
		Priority: alerts.High, Message: "fill weight above hi", Value: 10.4567, Limit: 10})
	alice := r.client(t)
	alice.login("alice", alicePW)
	key := "plant1/L1/filler/weight/limits"
	row := waitRow(t, alice, key, func(r map[string]any) bool { return r["id"] == hi.ID })
	if row["value"] != "10.46 g" || row["limit"] != "10.00 g" || row["activated"] != "2026-03-02 07:00:00 CET" {
		t.Errorf("hi row: value %v limit %v activated %v; want 10.46 g, 10.00 g, 2026-03-02 07:00:00 CET", row["value"], row["limit"], row["activated"])
	}
	if !slices.Equal(actionIDs(row, "shelve"), []string{hi.ID}) || !slices.Equal(actionIDs(row, "ack"), []string{hi.ID}) {
		t.Errorf("operator on a high alarm: actions %v", row["actions"])
	}

	// Escalation: the hihi level of the same tag changes the row, no new row.
	r.clk.Advance(time.Minute)
	hihi := r.svc.place(alerts.Alarm{ID: "plant1/L1/filler/weight/limits/hihi", Line: "L1", Machine: "filler", Tag: "weight", Detector: "limits", Rule: "hihi",
		Priority: alerts.Urgent, Message: "fill weight above hihi", Value: 12.5, Limit: 12})
	waitRow(t, alice, key, func(r map[string]any) bool { return r["id"] == hihi.ID })
	rows := rowsOf(t, alice)
	if len(rows) != 1 {
		t.Fatalf("%d rows after hi → hihi, want 1: %v", len(rows), rows)
	}
	row = rows[key]
	if row["id"] != hihi.ID || row["priority"] != "urgent" || row["value"] != "12.50 g" || len(row["members"].([]any)) != 2 {
		t.Errorf("escalated row: %v", row)
	}
	if hasAction(row, "shelve") {
		t.Errorf("operator offered Shelve on a row with an urgent level: %v", row["actions"])
	}
	if got := actionIDs(row, "ack"); !slices.Equal(got, []string{hihi.ID, hi.ID}) {
		t.Errorf("ack targets %v, want both levels, hihi first", got)
	}

	// The shelve durations offered: shelve_max for an operator, three
	// times that for a supervisor (alerts.Policy.ShelveLimit).
	if _, me, _ := alice.do("GET", "/api/me", nil); me["shelve_max_minutes"] != float64(60) {
		t.Errorf("operator shelve_max_minutes %v, want 60", me["shelve_max_minutes"])
	}

	victor := r.client(t)
	victor.login("victor", victorPW)
	if vr := rowsOf(t, victor)[key]; vr["actions"] != nil {
		t.Errorf("viewer offered %v", vr["actions"])
	}
	sam := r.client(t)
	sam.login("sam", samPW)
	if got := actionIDs(rowsOf(t, sam)[key], "shelve"); !slices.Equal(got, []string{hihi.ID, hi.ID}) {
		t.Errorf("supervisor shelve targets %v, want both levels", got)
	}
	if _, me, _ := sam.do("GET", "/api/me", nil); me["shelve_max_minutes"] != float64(180) {
		t.Errorf("supervisor shelve_max_minutes %v, want 180", me["shelve_max_minutes"])
	}

	// The SSE stream carries the viewer's own actions too.
	vev := victor.events()
	snap := waitEvent(t, vev, "viewer snapshot", func(e sseEvent) bool { return e.name == "snapshot" })
	for _, x := range snap.data["rows"].([]any) {
		if a := x.(map[string]any)["actions"]; a != nil {
			t.Errorf("viewer's stream offers %v", a)
		}
	}
}

// TestAckOfClearedAlarmRemovesRow: acknowledging a cleared alarm returns it
// to normal and its row goes away, on the stream and in the list.
func TestAckOfClearedAlarmRemovesRow(t *testing.T) {
	r := startConsole(t, rigOpts{cfg: testConfig()})
	a := r.svc.place(alerts.Alarm{ID: "plant1/L1/coldroom/temp/limits/hi", Line: "L1", Machine: "coldroom", Tag: "temp", Detector: "limits", Rule: "hi",
		Priority: alerts.High, Message: "cold room above 8 °C", Value: 9.73163, Limit: 8})
	r.clk.Advance(time.Minute)
	r.svc.clear(a.ID)
	c := r.client(t)
	c.login("alice", alicePW)
	ev := c.events()
	key := "plant1/L1/coldroom/temp/limits"
	row := waitRow(t, c, key, func(r map[string]any) bool { return r["state"] == "rtn_unack" })
	if row["value"] != "9.7 °C" || row["cleared"] != "2026-03-02 07:01:00 CET" || !hasAction(row, "ack") {
		t.Errorf("cleared row: %v", row)
	}
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID, "reason": "door left open, closed"}); code != 200 || m["ok"] != true {
		t.Fatalf("ack: %d %v", code, m)
	}
	waitEvent(t, ev, "row removed", isRowRemoved(key))
	if rows := rowsOf(t, c); len(rows) != 0 {
		t.Errorf("rows after acking a cleared alarm: %v", rows)
	}
}

// TestHistoryEndpoint pages the ALARMS stream through the console:
// newest first, a cursor to the next page, search by text, tag and line,
// and clear refusals of bad parameters.
func TestHistoryEndpoint(t *testing.T) {
	r := startConsole(t, rigOpts{cfg: testConfig()})
	for i := range 7 {
		r.clk.Advance(time.Minute)
		r.svc.place(alerts.Alarm{ID: fmt.Sprintf("plant1/L1/filler/weight/limits/hi%d", i), Line: "L1", Machine: "filler", Tag: "weight", Detector: "limits",
			Priority: alerts.High, Message: fmt.Sprintf("event number %d", i), Value: 10 + float64(i)/10, Limit: 10})
	}
	r.svc.place(alerts.Alarm{ID: "plant1/L2/dryer/temp/limits/hi", Line: "L2", Machine: "dryer", Tag: "temp", Detector: "limits",
		Priority: alerts.Low, Message: "dryer warm", Value: 60, Limit: 55})
	c := r.client(t)
	c.login("victor", victorPW) // viewing history needs no command rights
	get := func(q string) (int, map[string]any) {
		code, m, _ := c.do("GET", "/api/history?"+q, nil)
		return code, m
	}
	items := func(m map[string]any) []map[string]any {
		var out []map[string]any
		for _, x := range m["items"].([]any) {
			out = append(out, x.(map[string]any))
		}
		return out
	}
	code, m := get("limit=3")
	if code != 200 {
		t.Fatalf("history: %d %v", code, m)
	}
	p1 := items(m)
	if len(p1) != 3 || p1[0]["message"] != "dryer warm" || p1[1]["message"] != "event number 6" || p1[1]["value"] != "10.60 g" {
		t.Fatalf("page 1: %v", p1)
	}
	if p1[1]["time"] != "2026-03-02 07:07:00 CET" || m["zone"] != "Europe/Berlin (UTC+01:00)" {
		t.Errorf("time %v zone %v, want the site zone", p1[1]["time"], m["zone"])
	}
	next := fmt.Sprint(m["next"])
	if next == "0" || next != fmt.Sprint(p1[2]["seq"]) {
		t.Fatalf("next cursor %s, want the oldest item's seq %v", next, p1[2]["seq"])
	}
	_, m = get("limit=3&before=" + next)
	if p2 := items(m); len(p2) != 3 || p2[0]["message"] != "event number 4" {
		t.Fatalf("page 2: %v", p2)
	}
	_, m = get("q=" + url.QueryEscape("NUMBER 3"))
	if got := items(m); len(got) != 1 || got[0]["message"] != "event number 3" || fmt.Sprint(m["next"]) != "0" {
		t.Errorf("text search: %v next %v", got, m["next"])
	}
	_, m = get("line=L2")
	if got := items(m); len(got) != 1 || got[0]["line"] != "L2" {
		t.Errorf("line filter: %v", got)
	}
	_, m = get("tag=weight&priority=low")
	if got := items(m); len(got) != 0 {
		t.Errorf("tag+priority filter: %v", got)
	}
	// A time range in the site zone (the browser's datetime-local fields),
	// or RFC 3339 in any zone: events at 07:03 and 07:04 CET.
	for _, q := range []string{"from=2026-03-02T07:03&to=2026-03-02T07:05", "from=2026-03-02T06:03:00Z&to=" + url.QueryEscape("2026-03-02T07:05:00+01:00")} {
		_, m = get(q)
		got := items(m)
		if len(got) != 2 || got[0]["message"] != "event number 3" || got[1]["message"] != "event number 2" {
			t.Errorf("%s: %v", q, got)
		}
	}
	for _, bad := range []string{"before=abc", "limit=0", "limit=1000", "line=L1.*", "line=" + url.QueryEscape("L1 >"), "priority=critical", "q=" + strings.Repeat("x", 201),
		"from=yesterday", "to=2026-13-01T00:00", "from=2026-03-02T07:05&to=2026-03-02T07:05"} {
		if code, m := get(bad); code != 400 || m["message"] == "" {
			t.Errorf("%s: %d %v, want 400 with a message", bad, code, m)
		}
	}
}
