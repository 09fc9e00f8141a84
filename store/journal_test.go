package store

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Journal files a killed process left are spooled, oldest batch first,
// with their line counts (a string field may hold a newline), a record cut
// by a power loss dropped, and removed; the new journal starts
// after the highest generation left.
func TestJournalReplayedIntoSpool(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, deadURL(t), "plant")
	dir := cfg.Spool.Dir
	rec := func(body string, lines int) []byte { return appendRecord(nil, []byte(body), false, lines) }
	cut := rec("m v=5 5\n", 1)
	files := map[string][]byte{
		// two writes, the second cut by a power loss
		"0000000000000003.wal": append(rec("m v=3 3\nm s=\"a\nb\" 4\n", 2), cut[:len(cut)-3]...),
		"0000000000000002.wal": rec("m v=1 1\nm v=2 2\n", 2),
		"0000000000000004.wal": nil, // created, nothing written yet
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w := newIdleWriter(t, cfg, WriterOptions{}).Writer
	t.Cleanup(func() { w.sp.Close() })
	var got []string
	lines := 0
	for {
		b, err := w.sp.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		got = append(got, string(b.body))
		lines += b.lines
	}
	if want := []string{"m v=1 1\nm v=2 2\n", "m v=3 3\nm s=\"a\nb\" 4\n"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("spooled %q, want %q", got, want)
	}
	if lines != 4 {
		t.Errorf("spooled %d lines, want 4", lines)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+journalExt)); len(left) != 0 {
		t.Errorf("journal files left: %v", left)
	}
	if w.jr.gen != 5 {
		t.Errorf("next journal generation %d, want 5", w.jr.gen)
	}
}

// What WriteSamples accepted is in the journal before it returns, and a
// batch's file goes once the batch is durable.
func TestJournalHoldsOpenBatch(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, deadURL(t), "plant")
	w := newIdleWriter(t, cfg, WriterOptions{}).Writer
	t.Cleanup(func() { w.sp.Close() })
	w.WriteSamples(genSamples(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), 0, 10))
	left, _ := filepath.Glob(filepath.Join(cfg.Spool.Dir, "*"+journalExt))
	if len(left) != 1 {
		t.Fatalf("journal files %v, want one", left)
	}
	j, err := readJournal(left[0], w.log)
	if err != nil {
		t.Fatal(err)
	}
	if j.lines != 10 || w.lines != 10 {
		t.Errorf("journal holds %d lines, the open batch %d, want 10", j.lines, w.lines)
	}
	w.sealCurrentQueued()
	b := <-w.sealed
	if string(b.body) != string(j.body) {
		t.Errorf("journal differs from the batch:\n%s\n---\n%s", j.body, b.body)
	}
	w.jr.done(b)
	if left, _ := filepath.Glob(filepath.Join(cfg.Spool.Dir, "*"+journalExt)); len(left) != 0 {
		t.Errorf("journal files left after the batch was durable: %v", left)
	}
}

// Any bytes in a journal file: no panic, no error (a damaged record ends
// the file), and what is read is whole records.
func FuzzReadJournal(f *testing.F) {
	rec := appendRecord(nil, []byte("m v=1 1\n"), false, 1)
	f.Add(rec)
	f.Add(append(append([]byte{}, rec...), rec[:5]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "0000000000000001"+journalExt)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := readJournal(p, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if b.lines < 0 || len(b.body) > len(data) {
			t.Fatalf("read %d lines, %d bytes from %d bytes", b.lines, len(b.body), len(data))
		}
	})
}
