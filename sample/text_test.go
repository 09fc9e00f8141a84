package sample

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"B-1042":           "B-1042",
		"LOT\x1d42":        "LOT%1D42",
		`a\`:               "a%5C",
		"50%":              "50%25",
		"B\xff1":           "B%FF1",
		"Ü\x7f\x00":        "Ü%7F%00",
		"(10)LOT\x1d(21)x": "(10)LOT%1D(21)x",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := Unescape(EscapeLimit(strings.Repeat("x", 5000), 1024)); !errors.Is(err, ErrTruncated) {
		t.Errorf("a cut value must be refused with ErrTruncated, got %v", err)
	}
}

// FuzzEscape: Escape is reversible, its output is valid UTF-8 without
// control characters or backslash (a valid line-protocol tag value and
// NATS header), EscapeLimit stays within its limit and keeps values apart,
// and EscapeFileName gives a single safe path component.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "B-1042", "LOT\x1d42", `a\`, "%", "%~", "\xff\xfe", "Ü\x00\r\n", strings.Repeat("\x1d", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		back, err := Unescape(e)
		if err != nil || back != s {
			t.Fatalf("Unescape(Escape(%q)) = %q, %v", s, back, err)
		}
		if !utf8.ValidString(e) || strings.ContainsAny(e, "\\\x7f") || strings.IndexFunc(e, func(r rune) bool { return r < 0x20 }) >= 0 {
			t.Fatalf("Escape(%q) = %q holds a control character, backslash or invalid UTF-8", s, e)
		}
		l := EscapeLimit(s, 64)
		if len(l) > 64 || !utf8.ValidString(l) {
			t.Fatalf("EscapeLimit(%q, 64) = %q (%d bytes)", s, l, len(l))
		}
		if len(e) <= 64 && l != e {
			t.Fatalf("EscapeLimit changed a short value: %q → %q", e, l)
		}
		if l2 := EscapeLimit(s+"x", 64); l2 == l {
			t.Fatalf("EscapeLimit maps %q and %q to the same %q", s, s+"x", l)
		}
		fn := EscapeFileName(s)
		if fn == "" || fn == "." || fn == ".." || strings.ContainsAny(fn, "/\\\x00") || len(fn) > 200 || fn[0] == '.' {
			t.Fatalf("EscapeFileName(%q) = %q", s, fn)
		}
		if !strings.Contains(fn, "%~") && s != "" {
			if back, err := Unescape(fn); err != nil || back != s {
				t.Fatalf("Unescape(EscapeFileName(%q)) = %q, %v", s, back, err)
			}
		}
	})
}

// FuzzTelemetryRoundTrip: any value, text and batch id survives the v2
// body exactly (NaN as NaN, text cut only beyond MaxWireText, with "cut").
func FuzzTelemetryRoundTrip(f *testing.F) {
	f.Add("B-1042", "running", 1.5, uint32(0), int64(0))
	f.Add("LOT\x1d42\\", "\xff\x00\n", math.NaN(), uint32(0x80000000), int64(1e18))
	f.Add("", "", math.Inf(-1), uint32(0x40000000), int64(-1))
	f.Add("\xc3", "", 5e-324, uint32(0), int64(9e18))
	f.Fuzz(func(t *testing.T, batch, text string, v float64, status uint32, ns int64) {
		ts := time.Unix(0, ns).UTC()
		in := []Sample{
			{Time: ts, Site: "s", Line: "l", Machine: "m", Tag: "a", Unit: "°C", Value: v, Status: status, Batch: batch},
			{Time: ts, Site: "s", Line: "l", Machine: "m", Tag: "b", Text: text, Status: status, Batch: batch},
		}
		var issues []string
		data := AppendTelemetry(nil, in, func(i int, reason string) { issues = append(issues, reason) })
		b, err := Unmarshal(data)
		if err != nil {
			t.Fatalf("body refused: %v\n%q", err, data)
		}
		if b.Batch != batch || len(b.Values) != 2 || len(issues) != 0 {
			t.Fatalf("batch %q → %q, %d values, issues %v", batch, b.Batch, len(b.Values), issues)
		}
		a := b.Values[0]
		if !a.Time.Equal(ts) || a.Status != status || !(a.Value == v || (math.IsNaN(a.Value) && math.IsNaN(v))) || math.Signbit(a.Value) != math.Signbit(v) && !math.IsNaN(v) {
			t.Fatalf("value %v at %s q %d → %+v", v, ts, status, a)
		}
		if got := b.Values[1].Text; got != text {
			t.Fatalf("text %q → %q", text, got)
		}
	})
}

func TestTelemetryHugeTextCut(t *testing.T) {
	huge := strings.Repeat("é", MaxWireText) // 2 bytes each
	var reasons []string
	data := AppendTelemetry(nil, []Sample{
		{Time: time.Unix(1, 0), Site: "s", Line: "l", Machine: "m", Tag: "t", Text: huge},
		{Time: time.Unix(1, 0), Site: "s", Line: "l", Machine: "m", Tag: "u", Value: math.Inf(1)},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Site: "s", Line: "l", Machine: "m", Tag: "late", Value: 1},
		{Time: time.Unix(1, 0), Site: "s", Line: "l", Machine: "m", Tag: "v", Value: 2},
	}, func(i int, reason string) { reasons = append(reasons, reason) })
	b, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Values) != 3 || b.Values[0].Cut != len(huge) || len(b.Values[0].Text) > MaxWireText || !utf8.ValidString(b.Values[0].Text) ||
		!math.IsInf(b.Values[1].Value, 1) || b.Values[2].Tag != "v" || b.Values[2].Value != 2 {
		t.Fatalf("got %d values: cut %d, text %d bytes, %v, %+v", len(b.Values), b.Values[0].Cut, len(b.Values[0].Text), b.Values[1].Value, b.Values[2])
	}
	if strings.Join(reasons, ",") != ReasonTextCut+","+ReasonTimeRange {
		t.Errorf("reasons %v", reasons)
	}
}

func TestUnmarshalVersion1(t *testing.T) {
	b, err := Unmarshal([]byte(`{"v":1,"site":"s","line":"l","machine":"m","batch":"B1","values":[{"t":"2026-11-23T08:00:00Z","tag":"x","v":1.5,"q":2147483648}]}`))
	if err != nil || b.Batch != "B1" || len(b.Values) != 1 || b.Values[0].Value != 1.5 || b.Values[0].Status != 0x80000000 {
		t.Fatalf("v1 body: %+v, %v", b, err)
	}
}
