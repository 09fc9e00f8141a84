package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/reports"
	"github.com/linewatch/linewatch/simulator"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestDemoBatchReportIntegration runs the built-in demo config (no file
// behind it, as `linewatch demo` does) with the demo's own signing key and
// report writer through the end of a filling batch, and checks the signed
// PDF: it verifies against the demo's public key and states the digest of
// the built-in config. Only the addresses differ from the demo (free
// ports, a shared test InfluxDB) and the batch is 40 s long.
func TestDemoBatchReportIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("demo end-to-end at real time: skipped with -short")
	}
	dir := t.TempDir()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MoveDataDir(dir)
	if err := ensureSigningKey(cfg); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	plant := simulator.DefaultPlant()
	for i := range plant.Lines {
		if l := &plant.Lines[i]; l.ID == "filling1" {
			l.BatchLength = simulator.Duration(40 * time.Second)
			l.Params = map[string]float64{"cip_minutes": 2.0 / 60, "stops_per_hour": 0, "faults_per_hour": 0}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := simulator.Start(ctx, simulator.Options{Listen: "127.0.0.1:0", Speed: 1, Start: time.Now().UTC(), Seed: 1,
		AllowAnonymous: true, Plant: plant, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	// Secured as linewatch run secures it: role keys in the data dir,
	// where the demo's processes find them.
	ns := testenv.SecureNATS(t, dir)
	db := testenv.Influx(t)

	cfg.InfluxDB.URL, cfg.InfluxDB.Database = db.URL, db.Database
	cfg.NATS.URL = ns.ClientURL()
	cfg.Collector.MetricsListen, cfg.Console.Listen = "off", "off"
	for li := range cfg.Lines {
		for mi := range cfg.Lines[li].Machines {
			cfg.Lines[li].Machines[mi].Endpoint = sim.Endpoint()
		}
	}

	var out testenv.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{Config: cfg, Roles: app.AllRoles, Logger: log, OnReady: func(i app.Info) {
			wg.Add(1)
			go func() { defer wg.Done(); batchReports(ctx, cfg, i, &out, log) }()
		}})
	}()
	defer func() { cancel(); <-done; wg.Wait() }()

	signed := regexp.MustCompile(`batch (\S+) on filling1 ended: signed report (\S+)`)
	deadline := time.After(150 * time.Second)
	var m []string
	for m == nil {
		if strings.Contains(out.String(), "report failed") {
			t.Fatalf("demo output:\n%s", out.String())
		}
		m = signed.FindStringSubmatch(out.String())
		select {
		case <-deadline:
			t.Fatalf("no signed report of a filling1 batch within 150 s; demo output:\n%s", out.String())
		case <-time.After(200 * time.Millisecond): // polling the demo's output
		}
	}
	batchID, path := m[1], m[2]
	if want := filepath.Join(cfg.Reports.OutputDir, batchID+".pdf"); path != want {
		t.Errorf("report written to %s, want %s", path, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := reports.LoadPublicKey(reports.PublicKeyFile(cfg.Reports.SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := reports.Verify(data, pub)
	if err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
	sum := sha256.Sum256(config.DemoYAML)
	h := v.Report.Header
	switch {
	case !v.Authenticated || v.Format != "pdf":
		t.Errorf("verification: authenticated %t, format %s", v.Authenticated, v.Format)
	case h.ConfigSHA256 != hex.EncodeToString(sum[:]) || h.ConfigSHA256 != cfg.Digest:
		t.Errorf("report states config digest %s, want that of the built-in demo config %s", h.ConfigSHA256, hex.EncodeToString(sum[:]))
	case h.Batch != batchID || h.Line != "filling1" || h.SamplesRead == 0:
		t.Errorf("report header: batch %s line %s, %d samples; want batch %s of filling1 with samples", h.Batch, h.Line, h.SamplesRead, batchID)
	}

	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("SKIPPED LOUDLY: pdftotext (poppler-utils) is not installed; the PDF was verified but not read by a PDF reader")
	}
	text, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext %s: %v\n%s", path, err, text)
	}
	for _, want := range []string{batchID, "filling1", h.ConfigSHA256[:16]} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("the PDF's text does not contain %q:\n%s", want, text)
		}
	}
}
