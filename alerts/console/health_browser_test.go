package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

// TestBrowserHealthStrip: a real InfluxDB writer pointed at an address
// where nothing listens reports "InfluxDB unreachable"; the condition
// travels through a health registry, stream HEALTH and the real alarm
// service into a system alarm, and the console's health strip in a real
// Chromium turns the InfluxDB chip red (spool: in use) and a machine's
// OPC UA chip red while its communication is lost, green again once it
// is restored.
func TestBrowserHealthStrip(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	b := startBrowser(t)
	r := startConsole(t, rigOpts{noService: true, machines: []string{"L1/press", "L1/coldroom"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))

	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Site = "plant1"
	svc, err := alerts.New(cfg, r.nc, alerts.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hdone := make(chan error, 1)
	go func() { hdone <- svc.RunHealth(ctx) }()
	defer func() { cancel(); <-hdone }()

	reg, err := health.New(health.Options{Site: "plant1", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	go reg.Run(ctx, health.JetStreamPublisher(r.js), -1)

	b.navigate(r.url + "/")
	b.waitFor("login form", `!document.getElementById("login").hidden`)
	b.typeInto("#login-user", "alice")
	b.typeInto("#login-password", alicePW)
	b.click("#login-submit")
	b.waitFor("console", `!document.getElementById("console").hidden && document.getElementById("status").textContent === "live"`)
	chip := func(key string) string { return fmt.Sprintf(`document.querySelector('#health [data-health=%q]')`, key) }
	b.waitFor("all chips green", `document.querySelectorAll('#health .chip').length === 7 && document.querySelectorAll('#health .chip.ok').length === 7`)

	// A real writer against a closed port: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	w, err := store.NewWriter(config.InfluxDB{URL: dead, Database: "linewatch", BatchSize: 100, FlushInterval: 20 * time.Millisecond,
		Timeout: time.Second, Writers: 1, Spool: config.Spool{Dir: t.TempDir(), MaxSizeMB: 16}},
		store.WriterOptions{Logger: log, Health: reg.Report, BackoffMin: time.Hour, BackoffMax: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopW := context.WithCancel(ctx)
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	defer func() { stopW(); <-wdone }()
	w.WriteSamples([]sample.Sample{{Time: t0, Site: "plant1", Line: "L1", Machine: "press", Tag: "force", Value: 12.5}})

	b.waitFor("InfluxDB chip red", chip("influxdb")+`.dataset.level === "bad"`)
	b.waitFor("spool chip amber", chip("spool")+`.dataset.level === "warn"`)
	var why string
	b.eval(chip("influxdb")+`.title`, &why)
	if !strings.Contains(why, "InfluxDB unreachable") || !strings.Contains(why, ln.Addr().String()) {
		t.Errorf("InfluxDB chip title %q: want the condition and the address", why)
	}
	// The system alarm is in the alarm list too, with the same lifecycle.
	b.waitFor("system alarm row", `document.querySelector('tr[data-alarm-id="plant1/_system/store/influxdb_write_failing/system"][data-state="unacknowledged"]')`)

	// OPC UA communication of one machine lost, then restored.
	lost := health.Condition{Source: health.SourceCollector, Name: health.CommLost, Line: "L1", Machine: "coldroom",
		Active: true, Priority: health.High, Reason: "opc.tcp://coldroom:4840: EOF"}
	reg.Report(lost)
	b.waitFor("coldroom chip red", chip("opcua:L1/coldroom")+`.dataset.level === "bad"`)
	var pressLevel string
	b.eval(chip("opcua:L1/press")+`.dataset.level`, &pressLevel)
	if pressLevel != "ok" {
		t.Errorf("press chip %q while only the cold room is lost", pressLevel)
	}
	lost.Active = false
	reg.Report(lost)
	b.waitFor("coldroom chip green again", chip("opcua:L1/coldroom")+`.dataset.level === "ok"`)
}
