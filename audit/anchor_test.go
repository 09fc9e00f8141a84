package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/edkey"
	"github.com/linewatch/linewatch/internal/testenv"
)

func newKey(t *testing.T) (ed25519.PrivateKey, edkey.Keyring) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := edkey.Keyring{}
	k.Add(pub)
	return priv, k
}

func wantProblem(t *testing.T, a Anchoring, seq uint64, words string) {
	t.Helper()
	if a.OK() {
		t.Fatalf("accepted; want a problem at seq %d mentioning %q", seq, words)
	}
	p := a.Problems[0]
	if p.Seq != seq || !strings.Contains(p.Problem, words) {
		t.Fatalf("first problem %v; want seq %d mentioning %q (all: %v)", p.Error(), seq, words, a.Problems)
	}
}

// reseal recomputes every hash from i on, as a forger who edits an entry would.
func reseal(entries []Entry, i int) {
	for j := i; j < len(entries); j++ {
		var prev *Entry
		if j > 0 {
			prev = &entries[j-1]
		}
		entries[j] = entries[j].Seal(prev)
	}
}

func TestAnchoredAttacks(t *testing.T) {
	key, trusted := newKey(t)
	signedAt := t0.Add(time.Hour)
	fresh := func() ([]Entry, []Checkpoint) {
		e := chain(8)
		return e, []Checkpoint{SignCheckpoint(key, 8, e[7].Hash, signedAt)}
	}
	if e, cps := fresh(); !VerifyAnchored(e, cps, trusted).OK() || VerifyAnchored(e, cps, trusted).Unanchored != 0 {
		t.Fatalf("intact export: %+v", VerifyAnchored(e, cps, trusted))
	}

	// The attack of issue 15: one actor changed, every later hash
	// recomputed, the last entry dropped.
	e, cps := fresh()
	e[3].Actor = "mallory"
	reseal(e, 3)
	e = e[:7]
	wantProblem(t, VerifyAnchored(e, cps, trusted), 8, "truncated")
	// The same without dropping: the head no longer matches.
	e, cps = fresh()
	e[3].Actor = "mallory"
	reseal(e, 3)
	wantProblem(t, VerifyAnchored(e, cps, trusted), 8, "does not match the checkpoint")
	// Rewritten and truncated to before an older checkpoint that still
	// matches: the newer checkpoint of the export names the truncation.
	e, cps = fresh()
	cps = append([]Checkpoint{SignCheckpoint(key, 5, e[4].Hash, t0)}, cps...)
	wantProblem(t, VerifyAnchored(e[:5], cps, trusted), 6, "entries 6…8 were removed")

	// Truncation alone.
	e, cps = fresh()
	wantProblem(t, VerifyAnchored(e[:6], cps, trusted), 7, "truncated")
	// Reordering with recomputed hashes.
	e, cps = fresh()
	e[2], e[3] = e[3], e[2]
	e[2].Time, e[3].Time = e[3].Time, e[2].Time // a careful forger keeps time order
	reseal(e, 2)
	wantProblem(t, VerifyAnchored(e, cps, trusted), 8, "does not match the checkpoint")
	// Insertion of a well-chained entry in the middle.
	e, cps = fresh()
	ins := append(append(append([]Entry{}, e[:4]...), Entry{Time: e[3].Time, Actor: "carol", Action: "report.signed"}), e[4:]...)
	reseal(ins, 4)
	wantProblem(t, VerifyAnchored(ins, cps, trusted), 8, "does not match the checkpoint")
	// Edited without resealing: the chain itself breaks first.
	e, cps = fresh()
	e[5].Reason = "x"
	wantProblem(t, VerifyAnchored(e, cps, trusted), 6, "modified")

	// A forger re-signs the head of a rewritten export with their own key.
	forger, _ := newKey(t)
	e, _ = fresh()
	e[3].Actor = "mallory"
	reseal(e, 3)
	wantProblem(t, VerifyAnchored(e, []Checkpoint{SignCheckpoint(forger, 8, e[7].Hash, signedAt)}, trusted), 8, "not trusted")
	// An edited checkpoint (seq moved back) fails its signature.
	e, cps = fresh()
	cps[0].Seq = 6
	cps[0].Hash = e[5].Hash
	wantProblem(t, VerifyAnchored(e, cps, trusted), 6, "does not verify")

	// No checkpoint, or entries after it: reported as not anchored.
	e, _ = fresh()
	if a := VerifyAnchored(e, nil, trusted); !a.OK() || a.Head != nil || a.Unanchored != 8 {
		t.Fatalf("no checkpoint: %+v", a)
	}
	e, _ = fresh()
	if a := VerifyAnchored(e, []Checkpoint{SignCheckpoint(key, 5, e[4].Hash, signedAt)}, trusted); !a.OK() || a.Head.Seq != 5 || a.Unanchored != 3 {
		t.Fatalf("partly anchored: %+v", a)
	}
}

func TestExportFileRoundTrip(t *testing.T) {
	key, trusted := newKey(t)
	e := chain(3)
	var buf bytes.Buffer
	if err := WriteExport(&buf, e, []Checkpoint{SignCheckpoint(key, 3, e[2].Hash, t0)}); err != nil {
		t.Fatal(err)
	}
	back, cps, err := ReadExport(bytes.NewReader(buf.Bytes()))
	if err != nil || len(back) != 3 || len(cps) != 1 {
		t.Fatalf("read: %v %d %d", err, len(back), len(cps))
	}
	if a := VerifyAnchored(back, cps, trusted); !a.OK() || a.Unanchored != 0 {
		t.Fatalf("round trip: %+v", a)
	}
	if _, _, err := ReadExport(strings.NewReader(`{"checkpoint":{"seq":1,"evil":2}}`)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("unknown checkpoint field: %v", err)
	}
}

// The checkpointer signs the stream's head, answers requests, signs at
// shutdown, and a foreign message on the checkpoint subject fails verify.
func TestCheckpointerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded NATS")
	}
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	l := openLog(t, js)
	key, trusted := newKey(t)
	clk := clock.NewFake(t0.Add(2 * time.Hour))
	cp, err := NewCheckpointer(ctx, js, CheckpointerOptions{Key: key, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := cp.Checkpoint(ctx); ok || err != nil {
		t.Fatalf("empty trail: %v %v", ok, err)
	}
	for i := range 3 {
		if _, err := l.Append(ctx, Entry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "carol", Action: "alarm.ack", Object: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cp.Run(rctx) }()
	var got Checkpoint
	for { // the subscription is live once a request gets an answer
		c, err := RequestCheckpoint(ctx, nc)
		if err == nil {
			got = c
			break
		}
	}
	if got.Seq != 3 || got.Verify(trusted) != nil {
		t.Fatalf("requested checkpoint %+v", got)
	}
	l.Append(ctx, Entry{Time: t0.Add(time.Hour), Actor: "dave", Action: "alarm.ack", Object: "b"})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := clk.WaitWaiters(wctx, 1); err != nil {
		t.Fatal("the checkpointer armed no interval timer")
	}
	clk.Advance(time.Minute) // one interval (the default)
	l.Append(ctx, Entry{Time: t0.Add(time.Hour), Actor: "erin", Action: "alarm.ack", Object: "c"})
	cancel() // shutdown: a last checkpoint
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cps, err := ReadCheckpoints(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := l.All(ctx)
	a := VerifyAnchored(entries, cps, trusted)
	if !a.OK() || a.Head == nil || a.Head.Seq != 5 || a.Unanchored != 0 {
		t.Fatalf("anchoring %+v of %d checkpoints", a, len(cps))
	}
	if seqs := []uint64{cps[0].Seq, cps[len(cps)-1].Seq}; seqs[0] != 3 || seqs[1] != 5 {
		t.Fatalf("checkpoint seqs %v", seqs)
	}
	js.Publish(ctx, CheckpointSubject, []byte(`{"v":1,"seq":5,"hash":"x"}`))
	cps, _ = ReadCheckpoints(ctx, js)
	if a := VerifyAnchored(entries, cps, trusted); a.OK() {
		t.Fatal("a forged checkpoint on the subject was accepted")
	}
}

// TestVerifyAnchoredInZone: the checkpoint times in problems are written
// for people in the given zone, 24-hour and labelled.
func TestVerifyAnchoredInZone(t *testing.T) {
	key, trusted := newKey(t)
	e := chain(8)
	signedAt := time.Date(2026, 7, 2, 13, 0, 0, 0, time.UTC)
	cps := []Checkpoint{SignCheckpoint(key, 8, e[7].Hash, signedAt)}
	e[1].Actor = "mallory" // rewritten, every later hash recomputed
	reseal(e, 1)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	a := VerifyAnchoredIn(e, cps, trusted, ny)
	wantProblem(t, a, 8, "does not match the checkpoint signed at 2026-07-02 09:00:00 EDT (")
	wantProblem(t, VerifyAnchored(e, cps, trusted), 8, "does not match the checkpoint signed at 2026-07-02 13:00:00 UTC (")
}
