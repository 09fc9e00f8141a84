package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func openTestSpool(t *testing.T, dir string, maxBytes int64, dropOldest bool) (*diskSpool, *metrics, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	m := newMetrics(prometheus.NewRegistry())
	log := slog.New(slog.NewTextHandler(logs, nil))
	s, err := openDiskSpool(dir, maxBytes, dropOldest, log, m, newLossLog(log, time.Now, m.linesLost))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, m, logs
}

// rec makes a batch whose body names its sequence number.
func rec(i, size int) *batch {
	body := fmt.Appendf(nil, "seq=%06d ", i)
	body = append(body, bytes.Repeat([]byte{'x'}, size-len(body))...)
	return &batch{body: body, lines: 10}
}

func seqOf(b *batch) int {
	var n int
	fmt.Sscanf(string(b.body), "seq=%06d", &n)
	return n
}

// drain reads and acknowledges everything, returning the sequence numbers.
func drain(t *testing.T, s spool) []int {
	t.Helper()
	var seqs []int
	for {
		b, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return seqs
		}
		seqs = append(seqs, seqOf(b))
		s.Ack(b)
	}
}

func TestSpoolFIFOAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := openTestSpool(t, dir, 1<<20, true)
	for i := range 30 {
		if err := s.Append(rec(i, 10_000)); err != nil {
			t.Fatal(err)
		}
	}
	// Hand out and acknowledge the first 5, then "restart".
	for range 5 {
		b, _ := s.Next()
		s.Ack(b)
	}
	s.Close()
	s2, _, _ := openTestSpool(t, dir, 1<<20, true)
	got := drain(t, s2)
	// Delivery is at least once: acknowledged records of a segment that is
	// not finished come again; none is missing and the order holds.
	if len(got) < 25 || got[len(got)-1] != 29 {
		t.Fatalf("after reopen got %v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("out of order or missing: %v", got)
		}
	}
	if s2.Pending() != 0 || s2.Bytes() != 0 {
		t.Fatalf("pending %d bytes %d after draining", s2.Pending(), s2.Bytes())
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 0 {
		t.Fatalf("segments left: %v", segs)
	}
}

func TestSpoolFullDropOldest(t *testing.T) {
	s, m, logs := openTestSpool(t, t.TempDir(), 512<<10, true) // segments of 64 KiB
	for i := range 100 {                                       // ~1 MB into 512 KiB
		if err := s.Append(rec(i, 10_000)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Bytes() > 512<<10 {
		t.Fatalf("spool holds %d bytes, limit %d", s.Bytes(), 512<<10)
	}
	got := drain(t, s)
	if got[len(got)-1] != 99 {
		t.Fatalf("newest record lost: %v", got)
	}
	dropped := 100 - len(got)
	if dropped == 0 || got[0] != dropped {
		t.Fatalf("want the oldest %d dropped, got %v", dropped, got)
	}
	if v := metricValue(m.linesLost.WithLabelValues(lostSpoolFull)); v != float64(dropped*10) {
		t.Fatalf("dropped lines metric %v, want %d", v, dropped*10)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "drop_oldest") {
		t.Fatalf("no loud log: %s", logs.String())
	}
}

func TestSpoolFullDropNewest(t *testing.T) {
	s, m, logs := openTestSpool(t, t.TempDir(), 512<<10, false)
	for i := range 100 {
		if err := s.Append(rec(i, 10_000)); err != nil {
			t.Fatal(err)
		}
	}
	got := drain(t, s)
	if got[0] != 0 || got[len(got)-1] != len(got)-1 {
		t.Fatalf("want the oldest kept: %v", got)
	}
	if v := metricValue(m.linesLost.WithLabelValues(lostSpoolFull)); v != float64((100-len(got))*10) {
		t.Fatalf("dropped lines metric %v, want %d", v, (100-len(got))*10)
	}
	if !strings.Contains(logs.String(), "drop_newest") {
		t.Fatalf("no loud log: %s", logs.String())
	}
}

// TestSpoolTornTail: a crash in the middle of a write leaves a partial
// record; a flipped bit corrupts another. Both are reported and skipped,
// every record before them is read.
func TestSpoolTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(data []byte) []byte
		want   int
	}{
		{"truncated payload", func(d []byte) []byte { return d[:len(d)-7] }, 9},
		{"truncated header", func(d []byte) []byte { return d[:len(d)-(recHeaderLen+payloadHeaderLen+1000)+3] }, 9},
		{"bit flip in record 6", func(d []byte) []byte {
			d[len(segMagic)+6*(recHeaderLen+payloadHeaderLen+1000)+100] ^= 0x10
			return d
		}, 6},
		{"huge length in record 3", func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[len(segMagic)+3*(recHeaderLen+payloadHeaderLen+1000):], 1<<31)
			return d
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _, _ := openTestSpool(t, dir, 1<<20, true)
			for i := range 10 {
				s.Append(rec(i, 1000))
			}
			s.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			data, _ := os.ReadFile(segs[0])
			os.WriteFile(segs[0], tc.damage(data), 0o600)
			s2, _, logs := openTestSpool(t, dir, 1<<20, true)
			got := drain(t, s2)
			if len(got) != tc.want {
				t.Fatalf("read %v, want the first %d", got, tc.want)
			}
			if !strings.Contains(logs.String(), "torn or corrupt record") {
				t.Fatalf("corruption not reported: %s", logs.String())
			}
			// New appends after a damaged segment go to a new segment and are read.
			s2.Append(rec(100, 1000))
			if got := drain(t, s2); len(got) != 1 || got[0] != 100 {
				t.Fatalf("after damage got %v", got)
			}
		})
	}
}

func segmentBytes(recs ...[]byte) []byte {
	d := []byte(segMagic)
	for i, r := range recs {
		d = appendRecord(d, r, i%2 == 1, i+1)
	}
	return d
}

// FuzzRecordReader: any bytes give records with valid checksums, then a
// clean end or an error; never a panic or a huge allocation. The scanning
// reader and the random-access reader agree.
func FuzzRecordReader(f *testing.F) {
	f.Add(segmentBytes([]byte("cpu value=1 1\n"), []byte("x")))
	f.Add(segmentBytes([]byte("a"), []byte("bb"), []byte("ccc"))[:30])
	f.Add([]byte(segMagic))
	f.Add([]byte("LWSPOOL"))
	f.Add(append([]byte(segMagic), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0))
	f.Add([]byte("not a spool segment at all"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr, err := newRecordReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, errCorrupt) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		off := int64(len(segMagic))
		for {
			start := rr.off
			r, err := rr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, errCorrupt) {
					t.Fatalf("unexpected error %v", err)
				}
				if _, _, err2 := readRecordAt(bytes.NewReader(data), off, int64(len(data))); err2 == nil && errors.Is(err, errCorrupt) {
					t.Fatalf("scanner says %v at %d, random access reads a record", err, off)
				}
				return
			}
			enc := appendRecord(nil, r.body, r.gz, r.lines)
			if !bytes.Equal(enc, data[start:rr.off]) {
				t.Fatalf("record at %d does not re-encode to its bytes", start)
			}
			r2, next, err := readRecordAt(bytes.NewReader(data), off, int64(len(data)))
			if err != nil || next != rr.off || !bytes.Equal(r2.body, r.body) || r2.lines != r.lines || r2.gz != r.gz {
				t.Fatalf("random access at %d: %v %d %v", off, err, next, r2)
			}
			off = next
		}
	})
}

func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	c.Write(&m)
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
