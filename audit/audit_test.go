package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func chain(n int) []Entry {
	var out []Entry
	var prev *Entry
	for i := range n {
		e := Entry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "alice", Action: "alarm.ack",
			Object: fmt.Sprintf("site1/l1/m1/temp/limits#%d", i), Old: "unacknowledged", New: "acknowledged", Reason: "seen"}.Seal(prev)
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

func wantChainError(t *testing.T, err error, seq uint64, words string) {
	t.Helper()
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a ChainError at seq %d", err, seq)
	}
	if ce.Seq != seq || !strings.Contains(ce.Problem, words) {
		t.Fatalf("got %v, want seq %d mentioning %q", ce, seq, words)
	}
}

func TestVerify(t *testing.T) {
	good := chain(5)
	if err := Verify(good); err != nil {
		t.Fatalf("intact chain: %v", err)
	}
	if good[0].Prev != Genesis || good[4].Seq != 5 || good[3].Prev != good[2].Hash {
		t.Fatalf("bad sealing: %+v", good)
	}

	tampered := chain(5)
	tampered[2].Reason = "nobody saw it" // a changed field
	wantChainError(t, Verify(tampered), 3, "modified")

	rehashed := chain(5)
	rehashed[2].Actor = "mallory"
	rehashed[2].Hash = rehashed[2].ComputeHash()                 // forger recomputes its own hash …
	wantChainError(t, Verify(rehashed), 4, "previous-hash link") // … and breaks the next link

	deleted := append(chain(5)[:2:2], chain(5)[3:]...)
	wantChainError(t, Verify(deleted), 4, "missing (deleted)")

	swapped := chain(5)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	wantChainError(t, Verify(swapped), 3, "reordered")

	firstGone := chain(5)[1:]
	if err := Verify(firstGone); err != nil {
		t.Fatalf("a run that starts later is fine on its own: %v", err)
	}
	forgedStart := chain(3)
	forgedStart[0].Prev = strings.Repeat("1", 64)
	forgedStart[0].Hash = forgedStart[0].ComputeHash()
	wantChainError(t, Verify(forgedStart), 1, "genesis")
}

func TestCanonicalNoFieldConfusion(t *testing.T) {
	a := Entry{Actor: "ab", Action: "c"}
	b := Entry{Actor: "a", Action: "bc"}
	if a.ComputeHash() == b.ComputeHash() {
		t.Fatal("moving bytes between fields must change the hash")
	}
}

func TestJSONLRoundTripAndTamper(t *testing.T) {
	entries := chain(4)
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, entries); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSONL(bytes.NewReader(buf.Bytes()))
	if err != nil || len(back) != 4 || Verify(back) != nil || back[3].Hash != entries[3].Hash {
		t.Fatalf("round trip: %v %d", err, len(back))
	}
	edited := strings.Replace(buf.String(), `"actor":"alice","action":"alarm.ack","object":"site1/l1/m1/temp/limits#1"`,
		`"actor":"bob","action":"alarm.ack","object":"site1/l1/m1/temp/limits#1"`, 1)
	back, err = ReadJSONL(strings.NewReader(edited))
	if err != nil {
		t.Fatal(err)
	}
	wantChainError(t, Verify(back), 2, "modified")

	if _, err := ReadJSONL(strings.NewReader(`{"seq":1}` + "\n" + `{"seq":2,"evil":1}`)); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown field must name line 2: %v", err)
	}
}

func TestCSV(t *testing.T) {
	e := chain(1)
	e[0].Reason = "=HYPERLINK(\"x\")"
	var buf bytes.Buffer
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "seq,time,actor") || !strings.Contains(lines[1], `'=HYPERLINK`) {
		t.Fatalf("csv:\n%s", buf.String())
	}
}

func FuzzReadJSONL(f *testing.F) {
	var buf bytes.Buffer
	WriteJSONL(&buf, chain(2))
	f.Add(buf.Bytes())
	f.Add([]byte(`{"v":1,"seq":1}`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"seq":-1}`))
	f.Add([]byte(`{"checkpoint":{"v":1,"seq":1,"hash":"x","time":"2026-01-01T00:00:00Z","key_id":"k","sig":"s"}}` + "\n" + `{"checkpoint":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ReadJSONL(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = Verify(entries) // must not panic
		var out bytes.Buffer
		if err := WriteJSONL(&out, entries); err != nil {
			t.Fatal(err)
		}
		again, err := ReadJSONL(&out)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("re-read: %v (%d vs %d)", err, len(again), len(entries))
		}
	})
}

func openLog(t *testing.T, js jetstream.JetStream) *Log {
	t.Helper()
	l, err := Open(context.Background(), js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLogAppendRangeVerify(t *testing.T) {
	_, js := testenv.NATSConn(t)
	ctx := context.Background()
	l := openLog(t, js)
	for i := range 5 {
		e, err := l.Append(ctx, Entry{Time: t0.Add(time.Duration(i) * time.Hour), Actor: "carol", Action: "alarm.shelve", Object: "a", Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(i+1) || e.Hash != e.ComputeHash() {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	all, err := l.All(ctx)
	if err != nil || len(all) != 5 || Verify(all) != nil {
		t.Fatalf("all: %d %v %v", len(all), err, Verify(all))
	}
	r, err := l.Range(ctx, t0.Add(time.Hour), t0.Add(3*time.Hour))
	if err != nil || len(r) != 2 || r[0].Seq != 2 || r[1].Seq != 3 {
		t.Fatalf("range: %v %+v", err, r)
	}
	if _, err := l.Append(ctx, Entry{Action: "x"}); err == nil {
		t.Fatal("entry without actor accepted")
	}
	// The stream refuses deletion and purge.
	s, _ := js.Stream(ctx, Stream)
	if err := s.DeleteMsg(ctx, 2); err == nil {
		t.Fatal("AUDIT allowed deleting an entry")
	}
	if err := s.Purge(ctx); err == nil {
		t.Fatal("AUDIT allowed purge")
	}
	// A foreign message on the audit subjects breaks verification at its seq.
	js.Publish(ctx, "linewatch.audit.forged", []byte(`not json`))
	all, _ = l.All(ctx)
	wantChainError(t, Verify(all), 6, "")
}

func TestConcurrentAppendersDoNotFork(t *testing.T) {
	s := testenv.NATS(t)
	ctx := context.Background()
	const workers, each = 3, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		l := openLog(t, js) // one Log per "process": only the stream serialises them
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(ctx, Entry{Actor: fmt.Sprint("w", w), Action: "alarm.comment", Object: fmt.Sprint(i)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	nc, _ := nats.Connect(s.ClientURL())
	defer nc.Close()
	js, _ := jetstream.New(nc)
	all, err := openLog(t, js).All(ctx)
	if err != nil || len(all) != workers*each {
		t.Fatalf("got %d entries (%v), want %d", len(all), err, workers*each)
	}
	if err := Verify(all); err != nil {
		t.Fatalf("chain forked: %v", err)
	}
}
