package reports

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/edkey"
)

// fuzzKey is fixed so the seed corpus is reproducible.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// smallReport is a report with one of everything, built without I/O.
func smallReport() *Report {
	start := t0
	return &Report{
		V: SchemaVersion,
		Header: Header{Site: "plant1", Line: "fill1", Batch: "B-1", Product: "P", Start: start, End: start.Add(time.Hour),
			GeneratedAt: start.Add(2 * time.Hour), GeneratedBy: "qa", Version: "devel", ConfigFile: "c.yaml", ConfigSHA256: strings.Repeat("a", 64), AnalyticsNote: AnalyticsNote,
			TimeZone: "Europe/Dublin", RequiredSignatures: []string{"review", "approval"}},
		Tags: []TagStats{{Machine: "m", Tag: "temp", Count: 3, Good: 2, Min: 4, Max: 9, Mean: 6.5, StdDev: 3.5, LSL: 2, USL: 8, Cpk: Num(math.NaN()), Ppk: 0.1,
			BadShare: 1.0 / 3, Decimals: 1, Total: Num(math.NaN()), RatePerHour: Num(math.NaN()), Sampling: 10 * time.Second, GapThreshold: 31 * time.Second,
			GapCount: 1, GapLongest: time.Minute, GapTotal: time.Minute, Coverage: 59.0 / 60, Gaps: []Gap{{From: start, To: start.Add(time.Minute), Duration: time.Minute}}},
			{Machine: "m", Tag: "rejects", Unit: "count", Role: "reject_count", Count: 3, Good: 3, Min: 0, Max: 7, Mean: Num(math.NaN()), StdDev: Num(math.NaN()), LSL: Num(math.NaN()), USL: Num(math.NaN()),
				Cpk: Num(math.NaN()), Ppk: Num(math.NaN()), BadShare: 0, Counter: true, Total: 7, RatePerHour: 7, Coverage: 1, Gaps: []Gap{}}},
		Excursions: []Excursion{{Machine: "m", Tag: "temp", Rule: "hi", Limit: 8, Start: start, End: start.Add(time.Minute), Duration: time.Minute, Peak: 9, DegreeMinutes: 1}},
		ColdChain:  []ColdChain{{Machine: "m", Tag: "temp", MKT: 6.1, MKTLimit: 8, Activation: 10000, MKTOK: true, HasMKT: true, TORLow: 2, TORHigh: 8, TORUsed: time.Minute, TORBudget: time.Hour, HasTOR: true, TOROK: true}},
		Signals:    []Signal{{Time: start, Machine: "m", Tag: "temp", Detector: "limits", Rule: "hi", Value: 9, Limit: 8, Severity: "warning", Message: "=cmd|' /C calc'!A0 <script>"}},
		Rejects:    []RejectStats{{Machine: "m", GoodTag: "g", RejectTag: "r", Good: 100, Rejects: 1, RejectFraction: 1.0 / 101, YieldPct: 99, YieldMinPct: 98, YieldOK: true, PBar: 0.01, Subgroup: "10m0s", Points: []PPoint{{Time: start, P: 0.01, N: 101, UCL: 0.04, LCL: 0}}}},
		Alarms:     []AlarmRecord{{ID: "a", Machine: "m", Tag: "temp", Detector: "limits", Priority: "urgent", Events: []AlarmEvent{{Seq: 1, Time: start, Event: "ack", By: "alice", Reason: "lw-integrity-v1:forged"}}}},
		Charts:     []Chart{{Machine: "m", Tag: "temp", Decimals: 1, Limits: []Limit{{Name: "Hi", Value: 8}}, Points: []ChartPoint{{Time: start, Min: 4, Max: 9, Mean: 6}, {Time: start.Add(time.Minute), Min: 5, Max: 6, Mean: 5.5}}}},
		SPCCharts:  []SPCChart{},
		Storage: []StorageReport{{Location: "coldroom1", Name: "Cold room", From: start, To: start.Add(time.Hour), Tags: []TagStats{}, Excursions: []Excursion{},
			ColdChain: []ColdChain{{Machine: "coldroom", Tag: "probe1", MKT: 5.2, MKTLimit: 8, Activation: 10000, MKTOK: true, HasMKT: true, TORLow: Num(math.NaN()), TORHigh: Num(math.NaN())}}, Charts: []Chart{}}},
	}
}

func seedFiles(tb testing.TB) [][]byte {
	var out [][]byte
	for _, f := range Formats {
		data, err := Render(smallReport(), f, fuzzKey, t0)
		if err != nil {
			tb.Fatalf("render %s: %v", f, err)
		}
		out = append(out, data)
	}
	return out
}

func TestSmallReportAllFormatsVerify(t *testing.T) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	for i, data := range seedFiles(t) {
		if _, err := Verify(data, pub); err != nil {
			t.Errorf("%s: %v", Formats[i], err)
		}
		// Every single-bit change of the integrity block (outside the file
		// digest) and, for JSON and CSV, of every byte is caught.
		start, _ := locate(data)
		from, to := start-len(BlockPrefix), start+BlockLen
		if Formats[i] == "json" || Formats[i] == "csv" {
			from, to = 0, len(data)
		}
		for at := from; at < to; at++ {
			for _, bit := range []byte{0x01, 0x20} {
				bad := bytes.Clone(data)
				bad[at] ^= bit
				if _, err := Verify(bad, pub); err == nil {
					t.Fatalf("%s: byte %d ^ %#x not detected", Formats[i], at, bit)
				}
			}
		}
		// A forged prefix inside report text does not confuse the verifier,
		// and the formula-looking message is defused in CSV.
		if Formats[i] == "csv" && !bytes.Contains(data, []byte("'=cmd")) {
			t.Error("CSV: formula injection not defused")
		}
		if Formats[i] == "html" && bytes.Contains(data, []byte("<script>\"")) {
			t.Error("HTML: report text not escaped")
		}
	}
}

// FuzzVerify: the verifier must never panic, and a file it accepts must be
// byte-for-byte one of the genuine renderings (any mutation is caught).
func FuzzVerify(f *testing.F) {
	// The PDF (about 70 KB with its embedded font) and the HTML with SVG
	// charts are left out of the corpus: minimising a new input that large
	// stalls the fuzzer. The small-report test flips their bytes instead.
	var seeds [][]byte
	small := smallReport()
	small.Charts = nil
	for _, format := range []string{"json", "csv", "html"} {
		data, err := Render(small, format, fuzzKey, t0)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
		f.Add(data)
	}
	// A schema-1 report (verified with the frozen model of v1.go).
	v1 := sealV1JSON(f, smallV1Canonical(f, false), fuzzKey)
	if _, err := Verify(v1, fuzzKey.Public().(ed25519.PublicKey)); err != nil {
		f.Fatalf("schema-1 seed: %v", err)
	}
	seeds = append(seeds, v1)
	f.Add(v1)
	f.Add([]byte(placeholder()))
	f.Add([]byte("{" + BlockPrefix + strings.Repeat("A", BlockLen)))
	f.Add([]byte("%PDF-1.3\n/Type /EmbeddedFile /Length 99999999 stream\n"))
	f.Add([]byte("%PDF-1.3\n<< /Type /EmbeddedFile /Length 8 /Filter /FlateDecode >>\nstream\nx\x9c\xab\xae\x05\x00\x01u\x00\xf9\nendstream\n/Keywords (" + placeholder() + ")"))
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Verify(data, pub)
		if err != nil {
			return
		}
		for _, s := range seeds {
			if bytes.Equal(s, data) {
				return
			}
		}
		t.Fatalf("verify accepted a file that is not a genuine rendering (%d bytes)", len(data))
	})
}

func FuzzNum(f *testing.F) {
	for _, s := range []string{"null", "1", "-0", "1e308", "2.5e-324", "NaN", "\"1\"", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n Num
		if err := n.UnmarshalJSON(data); err != nil {
			return
		}
		b, err := n.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m Num
		if err := m.UnmarshalJSON(b); err != nil || !(m == n || (!m.Defined() && !n.Defined())) {
			t.Fatalf("%q → %v → %s → %v (%v)", data, n, b, m, err)
		}
	})
}

// FuzzSignRequestReport: whatever a client sends as block and report JSON,
// the signing service never panics and signs only a report sealed with its
// report key whose JSON is unedited.
func FuzzSignRequestReport(f *testing.F) {
	_, rk, _ := ed25519.GenerateKey(rand.Reader)
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	s := &SignService{o: SignServiceOptions{ReportKey: rk, SealKey: sk, Trusted: edkey.Keyring{}}}
	good, _ := Render(&Report{V: SchemaVersion}, "json", rk, genTime)
	msg, _ := NewSignMsg(good, "u", "p", "review", nil)
	f.Add([]byte(msg.Block), msg.Canonical, "json")
	f.Add([]byte(placeholder()[len(BlockPrefix):]), []byte{0x1f, 0x8b}, "pdf")
	f.Fuzz(func(t *testing.T, block, canon []byte, format string) {
		r, err := s.authenticReport(SignMsg{Block: string(block), Canonical: canon, Format: format})
		if err == nil && (string(block) != msg.Block || format != "json" || r.V != SchemaVersion) {
			t.Fatalf("accepted a report the service did not seal: block %q", block)
		}
	})
}
