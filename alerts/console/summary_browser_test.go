package console_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/internal/display"
)

// placePlant puts the alarms of a busy shift on the stand-in: hi then hihi
// of the fill weight (one condition), a cold room, a long message with a
// long value on line 2, a low alarm, a cleared unacknowledged one.
func placePlant(r *consoleRig) (hihi, cold, cleared alerts.Alarm) {
	r.svc.place(alerts.Alarm{ActivatedAt: t0.Add(-50 * time.Minute), ID: "plant1/L2/capper/torque/nelson/nelson2", Line: "L2", Machine: "capper", Tag: "torque", Detector: "nelson", Rule: "nelson2",
		Priority: alerts.Low, Message: "nine points in a row above the centre line of the capping torque chart", Value: 1.23456789012345, Limit: 1.2})
	cleared = r.svc.place(alerts.Alarm{ActivatedAt: t0.Add(-40 * time.Minute), ID: "plant1/L2/labeller/reject_rate/limits/hi", Line: "L2", Machine: "labeller", Tag: "reject_rate", Detector: "limits", Rule: "hi",
		Priority: alerts.Medium, Message: "label reject rate above hi", Value: 3.2, Limit: 3})
	r.svc.clear(cleared.ID)
	cold = r.svc.place(alerts.Alarm{ActivatedAt: t0.Add(-30 * time.Minute), ID: "plant1/L1/coldroom/temp/limits/hi", Line: "L1", Machine: "coldroom", Tag: "temp", Detector: "limits", Rule: "hi",
		Priority: alerts.High, Message: "cold room above 8 °C", Value: 9.731630066159267, Limit: 8})
	r.svc.place(alerts.Alarm{ActivatedAt: t0.Add(-time.Minute), ID: "plant1/L1/filler/weight/limits/hi", Line: "L1", Machine: "filler", Tag: "weight", Detector: "limits", Rule: "hi",
		Priority: alerts.High, Message: "fill weight above hi", Value: 10.4, Limit: 10})
	hihi = r.svc.place(alerts.Alarm{ID: "plant1/L1/filler/weight/limits/hihi", Line: "L1", Machine: "filler", Tag: "weight", Detector: "limits", Rule: "hihi",
		Priority: alerts.Urgent, Message: "fill weight above hihi", Value: 12.5, Limit: 12})
	return hihi, cold, cleared
}

// layoutJS reports the page's horizontal overflow and where the action
// buttons of the summary are, relative to the viewport.
const layoutJS = `(() => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const out = {scroll: document.documentElement.scrollWidth - vw, rows: 0, buttons: 0, outside: [], first: []};
  for (const tr of document.querySelectorAll("#alarm-rows tr")) {
    out.rows++;
    for (const b of tr.querySelectorAll("td.actions button")) {
      out.buttons++;
      const r = b.getBoundingClientRect();
      if (r.left < 0 || r.right > vw || r.width === 0) out.outside.push(tr.dataset.key + " " + b.textContent + " " + Math.round(r.left) + "–" + Math.round(r.right));
    }
  }
  const first = document.querySelector("#alarm-rows tr");
  if (first) for (const b of first.querySelectorAll("td.actions button")) {
    const r = b.getBoundingClientRect();
    out.first.push({text: b.textContent, inside: r.left >= 0 && r.right <= vw && r.top >= 0 && r.bottom <= vh});
  }
  return out;
})()`

type layout struct {
	Scroll  float64
	Rows    int
	Buttons int
	Outside []string
	First   []struct {
		Text   string
		Inside bool
	}
}

// TestBrowserSummary drives the ISA-101 summary in a real Chromium at
// 1 400 and 800 px: every action on screen with no horizontal scrolling,
// one row for hi+hihi, filters and sort, sound and flash for a new urgent
// alarm (mutable, remembered), ack with a comment, no ghost row after
// acking a cleared alarm, the Shelved and History views (paged), and the
// trend of a tag from real InfluxDB with its limits and the alarm marked.
// LW_CONSOLE_SHOTS=dir keeps the screenshots (docs/console-*.png).
func TestBrowserSummary(t *testing.T) {
	b := startBrowser(t)
	sc := influxWithSamples(t, weightSamples())
	r := startConsole(t, rigOpts{cfg: testConfig(), samples: sc.Samples, machines: []string{"L1/filler", "L1/coldroom", "L2/capper", "L2/labeller"}})
	hihi, cold, cleared := placePlant(r)

	b.viewport(1400, 900)
	b.navigate(r.url + "/")
	b.waitFor("login form", `!document.getElementById("login").hidden`)
	b.typeInto("#login-user", "alice")
	b.typeInto("#login-password", alicePW)
	b.click("#login-submit")
	b.waitFor("console", `document.getElementById("status").textContent === "live"`)
	b.waitFor("four rows", `document.querySelectorAll("#alarm-rows tr").length === 4`)
	var zone string
	b.eval(`document.getElementById("zone").textContent`, &zone)
	if zone != "Times: Europe/Berlin (UTC+01:00)" {
		t.Errorf("zone label %q", zone)
	}

	// One row for the weight condition, led by hihi, first (urgent).
	weight := `tr[data-key="plant1/L1/filler/weight/limits"]`
	var first struct{ Key, ID, Value, When string }
	b.eval(`(() => { const tr = document.querySelector("#alarm-rows tr"); return {Key: tr.dataset.key, ID: tr.dataset.alarmId,
  Value: tr.querySelector("td.value .v").textContent, When: tr.querySelector("td.when").textContent}; })()`, &first)
	if first.ID != hihi.ID || first.Value != "12.50 g" || first.When != "2026-03-02 07:00:00 CET" {
		t.Errorf("first row %+v: want the hihi, 12.50 g, 2026-03-02 07:00:00 CET", first)
	}
	var members int
	b.eval(`document.querySelectorAll('`+weight+` .member').length`, &members)
	if members != 2 {
		t.Errorf("weight row shows %d levels, want hi and hihi", members)
	}
	var coldValue string
	b.eval(fmt.Sprintf(`document.querySelector('tr[data-alarm-id=%q] td.value .v').textContent`, cold.ID), &coldValue)
	if coldValue != "9.7 °C" {
		t.Errorf("cold room value %q, want 9.7 °C (unit, 1 decimal)", coldValue)
	}
	// An operator is not offered Shelve on the urgent row, and is on the others.
	var shelveOnUrgent, shelveOnCold bool
	b.eval(`!!document.querySelector('`+weight+` button.shelve')`, &shelveOnUrgent)
	b.eval(fmt.Sprintf(`!!document.querySelector('tr[data-alarm-id=%q] button.shelve')`, cold.ID), &shelveOnCold)
	if shelveOnUrgent || !shelveOnCold {
		t.Errorf("Shelve offered on urgent %v (want no), on high %v (want yes)", shelveOnUrgent, shelveOnCold)
	}

	for _, w := range []int{1400, 800} {
		b.viewport(w, 900)
		b.waitFor("relayout", fmt.Sprintf(`window.innerWidth === %d`, w))
		var l layout
		b.eval(layoutJS, &l)
		if l.Scroll > 0 || len(l.Outside) > 0 || l.Buttons < 8 {
			t.Errorf("at %d px: horizontal overflow %v px, %d buttons, off screen: %v", w, l.Scroll, l.Buttons, l.Outside)
		}
		if len(l.First) < 2 {
			t.Errorf("at %d px: first row has buttons %+v, want Ack and Note…", w, l.First)
		}
		for _, btn := range l.First {
			if !btn.Inside {
				t.Errorf("at %d px: %s of the first row is outside the viewport", w, btn.Text)
			}
		}
		b.keepScreenshot(fmt.Sprintf("console-%d.png", w))
	}
	b.viewport(1400, 900)

	// Filters and sort.
	set := func(id, v string) {
		b.eval(fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event(%q)); })()`, id, v,
			map[bool]string{true: "input", false: "change"}[id == "f-text"]), nil)
	}
	count := func() int {
		var n int
		b.eval(`document.querySelectorAll("#alarm-rows tr").length`, &n)
		return n
	}
	set("f-priority", "urgent")
	if n := count(); n != 1 {
		t.Errorf("priority urgent: %d rows", n)
	}
	set("f-priority", "")
	set("f-line", "L2")
	var keys string
	b.eval(`Array.from(document.querySelectorAll("#alarm-rows tr")).map(tr => tr.dataset.key).join(",")`, &keys)
	if keys != "plant1/L2/labeller/reject_rate/limits,plant1/L2/capper/torque/nelson/nelson2" {
		t.Errorf("line L2, by priority: %s", keys)
	}
	set("f-sort", "oldest")
	b.eval(`Array.from(document.querySelectorAll("#alarm-rows tr")).map(tr => tr.dataset.key).join(",")`, &keys)
	if keys != "plant1/L2/capper/torque/nelson/nelson2,plant1/L2/labeller/reject_rate/limits" {
		t.Errorf("line L2, oldest first: %s", keys)
	}
	set("f-line", "")
	set("f-sort", "priority")
	set("f-state", "needs ack")
	if n := count(); n != 4 {
		t.Errorf("needs ack: %d rows, want 4", n)
	}
	set("f-state", "")
	set("f-text", "cold room")
	if n := count(); n != 1 {
		t.Errorf("search 'cold room': %d rows", n)
	}
	set("f-text", "")

	// A new urgent alarm sounds and flashes; muted, it only flashes, and
	// the choice survives a reload.
	r.clk.Advance(time.Minute)
	boil := r.svc.place(alerts.Alarm{ID: "plant1/L2/capper/temp/limits/hihi", Line: "L2", Machine: "capper", Tag: "temp", Detector: "limits", Rule: "hihi",
		Priority: alerts.Urgent, Message: "capper head temperature above hihi", Value: 95, Limit: 90})
	b.waitFor("beep", `window.lwSound.beeps === 1`)
	b.waitFor("flashing row", fmt.Sprintf(`document.querySelector('tr[data-alarm-id=%q].flash')`, boil.ID))
	b.click("#mute")
	b.navigate(r.url + "/")
	b.waitFor("reloaded", `document.getElementById("status").textContent === "live" && document.querySelectorAll("#alarm-rows tr").length === 5`)
	var pressed string
	b.eval(`document.getElementById("mute").getAttribute("aria-pressed")`, &pressed)
	if pressed != "true" {
		t.Errorf("mute after reload: aria-pressed %q", pressed)
	}
	r.clk.Advance(time.Minute)
	r.svc.place(alerts.Alarm{ID: "plant1/L1/coldroom/door/limits/hihi", Line: "L1", Machine: "coldroom", Tag: "door", Detector: "limits", Rule: "hihi",
		Priority: alerts.Urgent, Message: "cold room door open", Value: 1, Limit: 0})
	b.waitFor("muted announcement", `window.lwSound.beeps === 1 && document.querySelectorAll("#alarm-rows tr.flash").length === 3`)
	var played int
	b.eval(`window.lwSound.played`, &played)
	if played != 0 {
		t.Errorf("muted page played %d sounds", played)
	}

	// Ack with a comment acknowledges both levels of the weight row.
	b.click(weight + " button.note")
	b.waitFor("comment dialog", `document.getElementById("comment-dialog").open && document.getElementById("comment-ack").checked`)
	b.typeInto("#comment-text", "filler head 3 re-zeroed")
	b.click("#comment-submit")
	b.waitFor("weight row acknowledged", `document.querySelector('`+weight+`[data-state="acknowledged"]') && !document.querySelector('`+weight+` .member:not(.active)')`)
	b.waitFor("both acks with the comment in the events", `Array.from(document.querySelectorAll("#events li")).filter(li => li.textContent.includes("filler head 3 re-zeroed")).length === 2`)

	// Acking a cleared alarm: the row goes and stays gone.
	clearedRow := fmt.Sprintf(`tr[data-alarm-id=%q]`, cleared.ID)
	b.click(clearedRow + " button.ack")
	b.waitFor("ack reply", `document.getElementById("message").className === "ok"`)
	b.waitFor("cleared row gone", `!document.querySelector('`+clearedRow+`')`)
	var ghost bool
	b.eval(`new Promise(res => setTimeout(() => res(!!document.querySelector('`+clearedRow+`')), 300))`, &ghost)
	if ghost {
		t.Error("ghost row after acking a cleared alarm")
	}

	// Shelve → the Shelved view.
	coldRow := fmt.Sprintf(`tr[data-alarm-id=%q]`, cold.ID)
	b.click(coldRow + " button.shelve")
	b.waitFor("shelve dialog", `document.getElementById("shelve-dialog").open`)
	var offered string
	b.eval(`Array.from(document.getElementById("shelve-duration").options).filter(o => !o.disabled).map(o => o.value).join(",")`, &offered)
	if offered != "15m,30m,1h" {
		t.Errorf("an operator with shelve_max 1h is offered %s", offered)
	}
	b.typeInto("#shelve-reason", "probe being recalibrated (WO 5120)")
	b.click("#shelve-submit")
	b.waitFor("cold row left Active", `!document.querySelector('`+coldRow+`')`)
	b.click("#tab-shelved")
	b.waitFor("cold row in Shelved", `document.querySelector('`+coldRow+`[data-state="shelved"]') && document.querySelector('`+coldRow+` button.unshelve')`)
	var until string
	b.eval(`document.querySelector('`+coldRow+` td.state').textContent`, &until)
	if !strings.Contains(until, "until 2026-03-02 07:32:00 CET") {
		t.Errorf("shelved row says %q, want the end in the site zone", until)
	}

	// History: pages of 4, newest first, then older, then a search.
	b.click("#tab-history")
	b.eval(`window.lwHistoryLimit = 4`, nil)
	b.click("#h-search")
	b.waitFor("history page 1", `document.querySelectorAll("#history-rows tr").length === 4 && !document.getElementById("history-more").hidden`)
	var firstEvent string
	b.eval(`document.querySelector("#history-rows tr td.ev").textContent`, &firstEvent)
	if firstEvent != "shelve → shelved" {
		t.Errorf("newest history event %q, want the shelve", firstEvent)
	}
	b.click("#history-more")
	b.waitFor("history page 2", `document.querySelectorAll("#history-rows tr").length === 8`)
	b.typeInto("#h-text", "re-zeroed")
	b.click("#h-search")
	b.waitFor("history search", `document.querySelectorAll("#history-rows tr").length === 2 && document.getElementById("history-more").hidden`)
	b.keepScreenshot("console-history.png")

	// Trend: click the weight row in Active.
	b.click("#tab-active")
	b.waitFor("active again", `document.querySelector('`+weight+`')`)
	b.click(weight + " td.alarm")
	b.waitFor("trend drawn", `window.lwTrend && window.lwTrend.canvas`)
	var tr struct {
		Alarm  string
		Series int
		Limits int
		Marks  []string
		Points int
	}
	b.eval(`window.lwTrend`, &tr)
	if tr.Alarm != hihi.ID || tr.Series != 3 || tr.Limits != 2 || tr.Points < 100 || len(tr.Marks) != 2 || tr.Marks[0] != "activated" || tr.Marks[1] != "acknowledged" {
		t.Errorf("trend state %+v: want the hihi with its value and 2 limit series, activation and ack marked", tr)
	}
	var legend string
	b.eval(`document.querySelector("#trend-chart .u-legend").textContent`, &legend)
	if !strings.Contains(legend, "HiHi") || !strings.Contains(legend, "12.00 g") || !strings.Contains(legend, "10.00 g") {
		t.Errorf("trend legend %q: want the limits with unit", legend)
	}
	b.keepScreenshot("console-trend.png")
	b.click("#trend-close")
}

// TestBrowserFormatMatchesGo: the page's fmtNumber and fmtZoned (the trend
// axes) write what display.Number and display.Time's layout write, over
// units, decimals, ties, non-finite values, negative zero and time zones
// around daylight-saving changes.
func TestBrowserFormatMatchesGo(t *testing.T) {
	b := startBrowser(t)
	r := startConsole(t, rigOpts{noService: true})
	b.navigate(r.url + "/")
	b.waitFor("page", `typeof fmtNumber === "function"`)
	nums := []struct {
		v    float64
		d    int
		unit string
	}{
		{9.731630066159267, 2, "°C"}, {12.345, 2, "g"}, {0.125, 2, ""}, {0.375, 2, ""}, {2.5, 0, "%"}, {3.5, 0, "%"}, {-2.5, 0, ""},
		{-0.001, 2, "bar"}, {0, 0, ""}, {1e21, 1, ""}, {123456789.987654, 3, "ms"}, {1.005, 2, ""}, {-1.005, 2, ""}, {7, 12, ""},
		{5, -1, ""}, {math.NaN(), 2, "°C"}, {math.Inf(1), 1, ""}, {math.Inf(-1), 1, "g"}, {0.1 + 0.2, 10, ""}, {2.675, 2, ""}, {1e-7, 3, ""},
	}
	for _, c := range nums {
		var got string
		b.eval(fmt.Sprintf(`fmtNumber(%s, %d, %q)`, jsNumber(c.v), c.d, c.unit), &got)
		if want := display.Number(c.v, c.d, c.unit); got != want {
			t.Errorf("fmtNumber(%v, %d, %q) = %q, Go writes %q", c.v, c.d, c.unit, got, want)
		}
	}
	for _, zone := range []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{t0, time.Date(2026, 3, 29, 0, 59, 59, 0, time.UTC), time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
			time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC),
			time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)} {
			var got string
			b.eval(fmt.Sprintf(`fmtZoned(%d, %q)`, at.UnixMilli(), zone), &got)
			if want := at.In(loc).Format("2006-01-02 15:04:05"); got != want {
				t.Errorf("fmtZoned(%s, %s) = %q, Go writes %q", at.Format(time.RFC3339), zone, got, want)
			}
		}
	}
}

func jsNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return fmt.Sprintf("%v", v)
}
