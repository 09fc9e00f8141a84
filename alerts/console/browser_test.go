package console_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
)

// TestBrowserLoginLiveAck drives a real headless Chromium: log in, watch
// an alarm appear live, click Ack and see the state change, shelve another
// alarm through the dialog, log out. Set LW_CONSOLE_SCREENSHOT to a path
// to keep the screenshot.
func TestBrowserLoginLiveAck(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	b := startBrowser(t)
	r := startConsole(t, rigOpts{})
	low := r.svc.activate("L1", "press", alerts.Low, "reject rate drifting up")

	b.navigate(r.url + "/")
	b.waitFor("login form", `!document.getElementById("login").hidden`)
	b.typeInto("#login-user", "alice")
	b.typeInto("#login-password", "wrong password")
	b.click("#login-submit")
	b.waitFor("login error", `document.getElementById("login-error").textContent.includes("Wrong user name or password")`)
	b.typeInto("#login-user", "") // focus only; the field still holds "alice"
	b.typeInto("#login-password", alicePW)
	b.click("#login-submit")
	b.waitFor("console", `!document.getElementById("console").hidden && document.getElementById("status").textContent === "live"`)
	b.waitFor("existing alarm", fmt.Sprintf(`document.querySelector('tr[data-alarm-id=%q]')`, low.ID))

	// A new urgent alarm appears live, above the low one.
	r.clk.Advance(time.Minute)
	a := r.svc.activate("L1", "coldroom", alerts.Urgent, "cold room above 8 °C for 12 min")
	row := fmt.Sprintf(`tr[data-alarm-id=%q]`, a.ID)
	b.waitFor("urgent alarm row", fmt.Sprintf(`document.querySelector('%s[data-state="unacknowledged"]')`, row))
	var first string
	b.eval(`document.querySelector("#alarm-rows tr").dataset.alarmId`, &first)
	if first != a.ID {
		t.Errorf("first row = %s, want the urgent alarm %s", first, a.ID)
	}
	r.svc.activate("L2", "filler", alerts.High, "fill weight below LSL")
	r.svc.activate("L2", "checkweigher", alerts.Medium, "reject rate 2.1 % above baseline")
	b.waitFor("four rows", `document.querySelectorAll("#alarm-rows tr").length === 4`)

	b.click(row + " button.ack")
	b.waitFor("acknowledged row", fmt.Sprintf(`document.querySelector('%s[data-state="acknowledged"]')`, row))
	b.waitFor("success message", fmt.Sprintf(`document.getElementById("message").textContent.includes(%q)`, a.ID+" acknowledged by alice"))
	var cls string
	b.eval(`document.getElementById("message").className`, &cls)
	if cls != "ok" {
		t.Errorf("message class %q, want ok", cls)
	}

	// Shelve needs a reason: the dialog does not submit without one.
	lowRow := fmt.Sprintf(`tr[data-alarm-id=%q]`, low.ID)
	b.click(lowRow + " button.shelve")
	b.waitFor("shelve dialog", `document.getElementById("shelve-dialog").open`)
	b.click("#shelve-submit")
	var open bool
	b.eval(`document.getElementById("shelve-dialog").open`, &open)
	if !open {
		t.Error("shelve dialog submitted without a reason")
	}
	b.typeInto("#shelve-reason", "press sensor being replaced (WO 4711)")
	b.click("#shelve-submit")
	// A shelved alarm leaves the active list for the Shelved view.
	b.waitFor("shelved row gone from Active", fmt.Sprintf(`!document.querySelector('%s')`, lowRow))
	b.click("#tab-shelved")
	b.waitFor("shelved row", fmt.Sprintf(`document.querySelector('%s[data-state="shelved"]')`, lowRow))
	b.click("#tab-active")
	b.waitFor("events feed", `document.querySelectorAll("#events li").length >= 6`)

	shot := filepath.Join(t.TempDir(), "console.png")
	b.screenshot(shot)
	if keep := os.Getenv("LW_CONSOLE_SCREENSHOT"); keep != "" {
		png, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, png, 0o644); err != nil {
			t.Error(err)
		}
	}

	// Acking again from the page shows exactly why not.
	b.eval(fmt.Sprintf(`commandAll("ack", [%q])`, a.ID), nil)
	b.waitFor("refusal", fmt.Sprintf(`document.getElementById("message").textContent.includes(%q)`, "already acknowledged by alice"))

	b.click("#logout")
	b.waitFor("login after logout", `!document.getElementById("login").hidden && document.getElementById("login-error").textContent === "Logged out."`)
}
