package reports

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type auditLogT = audit.Log

func openAudit(t testing.TB, js jetstream.JetStream) *audit.Log {
	t.Helper()
	l, err := audit.Open(context.Background(), js, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func auditEntry(at time.Time, actor, action, object, reason string) audit.Entry {
	return audit.Entry{Time: at, Actor: actor, Action: action, Object: object, Reason: reason}
}

var genTime = time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)

func (f *fixture) build(t *testing.T) *Report {
	t.Helper()
	ctx := context.Background()
	b, err := FindBatch(ctx, f.src, "plant1", "", f.batch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Start.Equal(f.batch.Start) || !b.End.Equal(f.batch.End) || b.Product != f.batch.Product || b.Line != "fill1" {
		t.Fatalf("batch record %+v, want %+v", b, f.batch)
	}
	var fracs []float64
	r, err := Build(ctx, f.cfg, b, Sources{Samples: f.src, Alarms: JetStreamAlarms{JS: f.js}, Audit: f.audit},
		Options{GeneratedBy: "qa.jane", Now: func() time.Time { return genTime }, Progress: func(x float64) { fracs = append(fracs, x) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(fracs) == 0 || fracs[len(fracs)-1] != 1 {
		t.Errorf("progress reports %v, want ending at 1", fracs)
	}
	return r
}

func tagStats(t *testing.T, r *Report, key string) TagStats {
	t.Helper()
	for _, ts := range r.Tags {
		if ts.Key() == key {
			return ts
		}
	}
	t.Fatalf("no statistics for %s in %d tags", key, len(r.Tags))
	return TagStats{}
}

func TestBatchReportContents(t *testing.T) {
	f := newFixture(t)
	r := f.build(t)
	h := r.Header
	if h.Site != "plant1" || h.Line != "fill1" || h.Batch != f.batch.ID || h.Product != f.batch.Product || h.GeneratedBy != "qa.jane" ||
		!h.GeneratedAt.Equal(genTime) || len(h.ConfigSHA256) != 64 || h.Version == "" || !strings.Contains(h.AnalyticsNote, "same detector code") {
		t.Errorf("header %+v", h)
	}
	cfgBytes, _ := os.ReadFile(f.cfg.File)
	if h.ConfigSHA256 != sha256Hex(cfgBytes) {
		t.Errorf("config digest %s, want %s", h.ConfigSHA256, sha256Hex(cfgBytes))
	}
	// 541 reads of 3 tags; the other line's samples are not read.
	if h.SamplesRead != int64(541*3-12) {
		t.Errorf("samples read %d, want %d", h.SamplesRead, 541*3-12)
	}

	temp := tagStats(t, r, "coldroom/temp")
	if temp.Count != int64(len(f.temps)+2) || temp.Good != int64(len(f.temps)) {
		t.Errorf("temp count %d good %d, want %d / %d", temp.Count, temp.Good, len(f.temps)+2, len(f.temps))
	}
	var mn, mx, sum float64 = math.Inf(1), math.Inf(-1), 0
	for _, x := range f.temps {
		mn, mx, sum = math.Min(mn, x.v), math.Max(mx, x.v), sum+x.v
	}
	if float64(temp.Min) != mn || float64(temp.Max) != mx || math.Abs(float64(temp.Mean)-sum/float64(len(f.temps))) > 1e-12 {
		t.Errorf("temp min/max/mean %v %v %v, want %v %v %v", temp.Min, temp.Max, temp.Mean, mn, mx, sum/float64(len(f.temps)))
	}
	if want := 2.0 / float64(len(f.temps)+2); math.Abs(float64(temp.BadShare)-want) > 1e-15 {
		t.Errorf("bad share %v, want %v", temp.BadShare, want)
	}
	if !temp.Cpk.Defined() || !(temp.Ppk < 1) {
		t.Errorf("Cpk %v, Ppk %v: with an excursion beyond the USL the overall capability must be poor", temp.Cpk, temp.Ppk)
	}
	// The gap: last reading at 59:50, next at 62:00, against the observed
	// 10 s sampling (not the poll interval); the rest is not a gap.
	if len(temp.Gaps) != 1 || !temp.Gaps[0].From.Equal(t0.Add(59*time.Minute+50*time.Second)) || temp.Gaps[0].Duration != 130*time.Second {
		t.Errorf("gaps %+v, want one of 130 s from 59:50", temp.Gaps)
	}
	if temp.Sampling != 10*time.Second || temp.GapCount != 1 || temp.GapLongest != 130*time.Second || temp.GapTotal != 130*time.Second ||
		temp.GapThreshold < 30*time.Second || temp.GapThreshold > 32*time.Second || math.Abs(float64(temp.Coverage)-(1-130.0/5400)) > 1e-12 {
		t.Errorf("gap summary: sampling %v threshold %v count %d longest %v total %v coverage %v", temp.Sampling, temp.GapThreshold, temp.GapCount, temp.GapLongest, temp.GapTotal, temp.Coverage)
	}
	// Counters: totals and rates, no mean or σ.
	good := tagStats(t, r, "checkweigher/good_count")
	if !good.Counter || good.Total != 54000 || good.RatePerHour != 36000 || good.Mean.Defined() || good.StdDev.Defined() {
		t.Errorf("good_count: counter %v total %v rate %v mean %v σ %v; want 54000, 36000/h, no mean or σ", good.Counter, good.Total, good.RatePerHour, good.Mean, good.StdDev)
	}
	if h.TimeZone != "UTC" || !h.StorageConfigured || strings.Join(h.RequiredSignatures, ",") != "review,approval" {
		t.Errorf("header zone %q storage %v required %v", h.TimeZone, h.StorageConfigured, h.RequiredSignatures)
	}
	// The storage location the batch passed through: the same probe, so
	// the same excursion and MKT.
	if len(r.Storage) != 1 || r.Storage[0].Location != "coldroom1" || len(r.Storage[0].Excursions) != 1 || len(r.Storage[0].ColdChain) != 1 ||
		math.Abs(float64(r.Storage[0].ColdChain[0].MKT)-independentMKT(f.temps)) > 1e-9 || len(r.Storage[0].Charts) != 1 {
		t.Errorf("storage %+v", r.Storage)
	}

	// The excursion: first reading above 8 °C at 30:00, first reading back at 42:00.
	var exc []Excursion
	for _, e := range r.Excursions {
		if e.Tag == "temp" {
			exc = append(exc, e)
		}
	}
	if len(exc) != 1 {
		t.Fatalf("excursions %+v, want one", r.Excursions)
	}
	e := exc[0]
	var peak float64
	for _, x := range f.temps {
		if !x.t.Before(f.excStart) && x.t.Before(f.excEnd) {
			peak = math.Max(peak, x.v)
		}
	}
	if e.Rule != "hi" || e.Limit != 8 || !e.Start.Equal(f.excStart) || !e.End.Equal(f.excEnd) || e.Duration != 12*time.Minute || float64(e.Peak) != peak || e.Open {
		t.Errorf("excursion %+v, want hi 8 from %v for 12m, peak %v", e, f.excStart, peak)
	}

	if len(r.ColdChain) != 1 {
		t.Fatalf("cold chain %+v", r.ColdChain)
	}
	cc := r.ColdChain[0]
	if want := independentMKT(f.temps); math.Abs(float64(cc.MKT)-want) > 1e-9 {
		t.Errorf("MKT %.12f, independently %.12f", cc.MKT, want)
	}
	if !cc.MKTOK || cc.MKTLimit != 8 {
		t.Errorf("MKT verdict %+v", cc)
	}
	// 72 readings above 8 °C, each covering 10 s.
	if cc.TORUsed != 12*time.Minute || cc.TORBudget != 2*time.Hour || !cc.TOROK {
		t.Errorf("TOR used %v of %v ok=%v, want 12m of 2h", cc.TORUsed, cc.TORBudget, cc.TOROK)
	}

	var limitSignal bool
	for _, s := range r.Signals {
		if s.Detector == "limits" && s.Rule == "hi" && s.Time.Equal(f.excStart) && s.End.Equal(f.excEnd) {
			limitSignal = true
		}
	}
	if !limitSignal {
		t.Errorf("signals %+v: want the limits/hi finding from %v to %v", r.Signals, f.excStart, f.excEnd)
	}

	if len(r.Rejects) != 1 {
		t.Fatalf("rejects %+v", r.Rejects)
	}
	rj := r.Rejects[0]
	// 540 increments of 100 good; rejects +1 every 10th read after the first.
	if rj.Good != 54000 || rj.Rejects != 54 || math.Abs(float64(rj.RejectFraction)-54.0/54054) > 1e-15 || !rj.YieldOK || rj.PBar != 0.01 || len(rj.Points) != 10 || rj.OutOfControl != 9 {
		t.Errorf("reject stats %+v", rj)
	}

	if len(r.Alarms) != 1 {
		t.Fatalf("alarms %+v, want the one of line fill1", r.Alarms)
	}
	a := r.Alarms[0]
	if a.ID != "plant1/fill1/coldroom/temp/limits/hi" || len(a.Events) != 3 || a.Events[1].Event != "ack" || a.Events[1].By != "alice" ||
		a.Events[1].Reason != "probe checked, product moved to backup room" || !a.Events[1].Time.Equal(t0.Add(31*time.Minute)) {
		t.Errorf("alarm %+v", a)
	}
	if len(r.Audit) != 2 || r.Audit[0].Actor != "alice" || r.Audit[1].Reason != "door seal replaced" {
		t.Errorf("audit %+v, want the two entries in the batch", r.Audit)
	}
	if len(r.Charts) != 1 || r.Charts[0].Tag != "temp" || len(r.Charts[0].Points) == 0 || len(r.Charts[0].Limits) != 5 {
		t.Errorf("charts %+v", r.Charts)
	}
}

func TestRenderVerifyAndParseBack(t *testing.T) {
	f := newFixture(t)
	r := f.build(t)
	canon, _ := r.Canonical()
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			data, err := Render(r, format, f.key, genTime)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Verify(data, f.pub)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !v.Authenticated || v.Format != format || v.ContentSHA256 != sha256Hex(canon) {
				t.Errorf("verification %+v", v)
			}
			back, _ := v.Report.Canonical()
			if !bytes.Equal(back, canon) {
				t.Error("embedded report differs from the built one")
			}
			// Without a trusted key the file is consistent but not authenticated.
			if v, err := Verify(data, nil); err != nil || v.Authenticated {
				t.Errorf("verify without key: %v, authenticated %v", err, v.Authenticated)
			}
			// Another key: fails, naming the key.
			other, _, _ := ed25519GenerateKey()
			if _, err := Verify(data, other); err == nil || !strings.Contains(err.Error(), "not with the trusted key") {
				t.Errorf("verify with another key: %v", err)
			}
			// Any flipped byte fails.
			for _, at := range []int{0, len(data) / 3, len(data) / 2, len(data) - 3} {
				bad := bytes.Clone(data)
				bad[at] ^= 0x01
				if _, err := Verify(bad, f.pub); err == nil {
					t.Errorf("byte %d of %d flipped: verify passed", at, len(data))
				}
			}
			if format == "csv" {
				checkCSV(t, data, r)
			}
			if format == "pdf" {
				checkPDF(t, data, f.batch.ID, "", filepath.Join(os.TempDir(), "linewatch-report-page1"))
				checkPage1(t, data)
			}
		})
	}
}

// checkCSV parses the CSV rendering back and compares its numbers.
func checkCSV(t *testing.T, data []byte, r *Report) {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) float64 {
		if s == "" {
			return math.NaN()
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("CSV number %q: %v", s, err)
		}
		return x
	}
	same := func(a float64, b Num) bool { return a == float64(b) || (math.IsNaN(a) && !b.Defined()) }
	tags, exc, cc := 0, 0, 0
	for _, rec := range recs {
		switch rec[0] {
		case "tag":
			ts := r.Tags[tags]
			tags++
			if rec[1]+"/"+rec[2] != ts.Key() || rec[6] != strconv.FormatInt(ts.Count, 10) || !same(num(rec[8]), ts.Min) || !same(num(rec[9]), ts.Max) ||
				!same(num(rec[10]), ts.Mean) || !same(num(rec[11]), ts.StdDev) || !same(num(rec[14]), ts.Cpk) || !same(num(rec[16]), ts.BadShare) {
				t.Errorf("CSV tag row %v does not match %+v", rec, ts)
			}
		case "excursion":
			e := r.Excursions[exc]
			exc++
			if rec[5] != e.Start.Format(time.RFC3339Nano) || num(rec[7]) != e.Duration.Seconds() || !same(num(rec[8]), e.Peak) || !same(num(rec[9]), e.DegreeMinutes) {
				t.Errorf("CSV excursion row %v does not match %+v", rec, e)
			}
		case "cold_chain":
			c := r.ColdChain[cc]
			cc++
			if !same(num(rec[3]), c.MKT) || num(rec[7]) != c.TORUsed.Seconds() {
				t.Errorf("CSV cold-chain row %v does not match %+v", rec, c)
			}
		case "alarm_event":
			if rec[12] == "alice" && rec[13] != "probe checked, product moved to backup room" {
				t.Errorf("CSV alarm row %v", rec)
			}
		}
	}
	if tags != len(r.Tags) || exc != len(r.Excursions) || cc != len(r.ColdChain) {
		t.Errorf("CSV rows: %d tags, %d excursions, %d cold chain; want %d, %d, %d", tags, exc, cc, len(r.Tags), len(r.Excursions), len(r.ColdChain))
	}
}

// checkPDF extracts the text with poppler and renders page 1 to PNG.
func checkPDF(t *testing.T, data []byte, want ...string) {
	t.Helper()
	pngBase := want[len(want)-1]
	want = want[:len(want)-1]
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("SKIPPED LOUDLY: pdftotext (poppler-utils) is not installed; the PDF was not checked by a PDF reader")
	}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "r.pdf")
	os.WriteFile(pdfPath, data, 0o600)
	out, err := exec.Command("pdftotext", "-layout", pdfPath, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	for _, w := range want {
		if w != "" && !bytes.Contains(out, []byte(w)) {
			t.Errorf("PDF text does not contain %q", w)
		}
	}
	for _, w := range []string{"Excursions", "Signatures", "Alarms", "alice"} {
		if !bytes.Contains(out, []byte(w)) {
			t.Errorf("PDF text does not contain %q", w)
		}
	}
	if o, err := exec.Command("pdftoppm", "-png", "-r", "70", pdfPath, pngBase).CombinedOutput(); err != nil {
		t.Errorf("pdftoppm: %v: %s", err, o)
	}
	if o, err := exec.Command("pdfdetach", "-list", pdfPath).CombinedOutput(); err != nil || !bytes.Contains(o, []byte("report.json")) {
		t.Errorf("pdfdetach -list: %v: %s", err, o)
	}
}

func writeUsers(t *testing.T, dir string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "users")
	os.WriteFile(path, []byte("# users\njane:qa:"+string(h)+":Jane Q. Auditor\nbob:operator:"+string(h)+"\n"), 0o600)
	return path
}

func TestKeysGenerateAndLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.key")
	pub, err := GenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	priv, err := LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	pub2, err := LoadPublicKey(PublicKeyFile(path))
	if err != nil || !pub2.Equal(pub) || !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatalf("public key round trip: %v", err)
	}
	if _, err := GenerateKey(path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadPrivateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
}

// A batch id and product code with control characters, a backslash and
// bytes that are not UTF-8 render in every format; the PDF and HTML show
// them percent-encoded (reversible), the CSV and the embedded JSON carry
// the CSV-safe value.
func TestRenderHostileBatchID(t *testing.T) {
	f := newFixture(t)
	r := f.build(t)
	r.Header.Batch = "(10)LOT\x1d42\\\x00\r\n"
	r.Header.Product = jsonText("P\xff1") // as Build sets it: not UTF-8, so percent-encoded
	for _, format := range Formats {
		data, err := Render(r, format, f.key, genTime)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if _, err := Verify(data, f.pub); err != nil {
			t.Fatalf("%s: verify: %v", format, err)
		}
		switch format {
		case "pdf":
			checkPDF(t, data, "(10)LOT%1D42%5C%00%0D%0A", "P%25FF1", filepath.Join(os.TempDir(), "linewatch-report-hostile-page1"))
		case "html":
			if !bytes.Contains(data, []byte("(10)LOT%1D42%5C%00%0D%0A")) || bytes.Contains(data, []byte("\x1d")) {
				t.Errorf("html does not show the batch id percent-encoded")
			}
		}
	}
}
