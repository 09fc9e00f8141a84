package alerts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
)

// HistoryQuery selects one page of the transitions on ALARMS, newest
// first, for a client that pages back through the alarm history.
type HistoryQuery struct {
	Site, Line string // "" means every site, every line
	// Before is the cursor: only messages with a stream sequence below
	// it (0: from the newest). HistoryPage.Next is the next page's.
	Before uint64
	// Limit is the most transitions a page holds (default 50, at most 500).
	Limit int
	// Since stops the search at messages stored before it (zero: none).
	Since time.Time
	// Match keeps a transition (nil keeps all): the caller's search.
	Match func(Transition) bool
	// MaxScan bounds the messages read for one page (default 20 000): a
	// search with few hits returns a short page and a cursor to go on.
	MaxScan int
}

// HistoryItem is one transition and its sequence in stream ALARMS.
type HistoryItem struct {
	Seq uint64 `json:"seq"`
	Transition
}

// HistoryPage is a page of history, newest first.
type HistoryPage struct {
	Items []HistoryItem
	// Next is the cursor of the next, older page (HistoryQuery.Before);
	// 0 when the search reached the start of the stream (or Since).
	Next uint64
	// Scanned is how many messages were read for this page.
	Scanned int
}

// historyChunk is how many stream sequences one consumer reads.
const historyChunk = 512

// History reads a page of transitions backwards from q.Before: stream
// ALARMS is read in chunks of sequences, newest chunk first, each
// through a short-lived consumer starting at the chunk's first sequence
// (the operator role may create consumers on ALARMS but not read single
// messages). Undecodable messages are errors, as in Transitions.
func (r *Reader) History(ctx context.Context, q HistoryQuery) (HistoryPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	if q.MaxScan <= 0 {
		q.MaxScan = 20_000
	}
	st, err := r.js.Stream(ctx, bus.StreamAlarms)
	if err != nil {
		return HistoryPage{}, fmt.Errorf("alarm history: stream %s: %w", bus.StreamAlarms, err)
	}
	state := st.CachedInfo().State
	first, hi := state.FirstSeq, state.LastSeq
	if q.Before != 0 && q.Before-1 < hi {
		hi = q.Before - 1
	}
	var page HistoryPage
	var res []HistoryItem // ascending
	seen := map[string]bool{}
	for state.Msgs > 0 && hi >= first && hi > 0 {
		lo := first
		if hi-first+1 > historyChunk {
			lo = hi - historyChunk + 1
		}
		items, n, pastSince, err := r.historyChunk(ctx, q, lo, hi)
		if err != nil {
			return HistoryPage{}, err
		}
		page.Scanned += n
		fresh := make([]HistoryItem, 0, len(items))
		for _, it := range slices.Backward(items) { // newest first wins a duplicate id
			if !seen[it.ID] {
				seen[it.ID] = true
				fresh = append(fresh, it)
			}
		}
		slices.Reverse(fresh)
		res = append(fresh, res...)
		switch {
		case len(res) >= q.Limit:
			res = res[len(res)-q.Limit:]
			page.Next = res[0].Seq
		case lo == first || pastSince:
		case page.Scanned >= q.MaxScan:
			page.Next = lo
		default:
			hi = lo - 1
			continue
		}
		break
	}
	slices.Reverse(res)
	page.Items = res
	return page, nil
}

// historyChunk reads the messages q selects with stream sequences in
// [lo, hi] and returns the matching transitions in stream order, the
// number of messages read and whether it met one stored before q.Since.
func (r *Reader) historyChunk(ctx context.Context, q HistoryQuery, lo, hi uint64) ([]HistoryItem, int, bool, error) {
	cc := TransitionQuery{Site: q.Site, Line: q.Line}.consumer()
	cons, err := r.js.CreateConsumer(ctx, bus.StreamAlarms, jetstream.ConsumerConfig{
		Name: cc.NamePrefix, AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: lo, FilterSubjects: cc.FilterSubjects,
	})
	if err != nil {
		return nil, 0, false, fmt.Errorf("alarm history: read stream %s: %w", bus.StreamAlarms, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		r.js.DeleteConsumer(dctx, bus.StreamAlarms, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	var out []HistoryItem
	read, pastSince := 0, false
	for got := uint64(0); got < pending; {
		batch, err := cons.Fetch(int(min(pending-got, 256)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			return nil, 0, false, fmt.Errorf("alarm history: read stream %s: %w", bus.StreamAlarms, err)
		}
		n, done := 0, false
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, 0, false, fmt.Errorf("alarm history: message on %s: %w", m.Subject(), err)
			}
			seq := md.Sequence.Stream
			if seq > hi {
				done = true
				continue
			}
			read++
			if !q.Since.IsZero() && md.Timestamp.Before(q.Since) {
				pastSince = true
				continue
			}
			t, err := DecodeTransition(m.Data())
			if err != nil {
				return nil, 0, false, fmt.Errorf("alarm stream %s, message %d on %s: %w", bus.StreamAlarms, seq, m.Subject(), err)
			}
			if q.Match == nil || q.Match(t) {
				out = append(out, HistoryItem{Seq: seq, Transition: t})
			}
		}
		if err := batch.Error(); err != nil {
			return nil, 0, false, fmt.Errorf("alarm history: read stream %s: %w", bus.StreamAlarms, err)
		}
		if done {
			break
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, false, err
			}
			return nil, 0, false, fmt.Errorf("alarm history: read stream %s: no messages after %d of %d", bus.StreamAlarms, got, pending)
		}
		got += uint64(n)
	}
	return out, read, pastSince, nil
}
