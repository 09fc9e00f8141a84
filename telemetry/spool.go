package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// entryOverhead is what a spooled message costs besides its subject and
// body (headers, the nats.Msg and the entry), counted against the bound.
const entryOverhead = 256

// entry is one message accepted by the publisher and not yet stored by
// JetStream (nor given up). It sits in two lists: the spool's, in arrival
// order across subjects (oldest first, where drops happen), and its
// subject's, in publish order.
type entry struct {
	msg    *nats.Msg
	stream string // the stream the subject belongs to (for the last-message lookup)
	size   int
	subj   *subject

	prev, next   *entry // arrival order, all subjects
	sprev, snext *entry // the subject's queue

	busy    bool // being published or looked up: not dropped from under its worker
	sent    bool // handed to nats.go at least once (nats.go may still read msg)
	tries   int  // failed attempts, for "NATS publish failing"
	refused int  // permanent refusals (4xx, no stream)
	spooled bool // counted in spooled_total
}

// subject is the publish state of one subject. At most one of its
// messages is in flight, so a retry can neither reorder nor (with the
// expected last subject sequence) duplicate.
type subject struct {
	name       string
	head, tail *entry
	active     bool // a worker publishes its queue
	// lastSeq is the stream sequence of the subject's last stored message
	// while known; an unknown one is looked up after an ambiguous
	// failure (resolve) or a wrong-last-sequence answer.
	lastSeq uint64
	known   bool
	resolve bool
	fails   int // consecutive failed attempts, for the backoff
}

// spool holds the accepted messages not yet stored, bounded in bytes:
// beyond the bound the oldest (that no worker holds) are dropped. It is
// guarded by the publisher's mutex.
type spool struct {
	limit    int
	bytes    int
	msgs     int
	oldest   *entry
	newest   *entry
	subjects map[string]*subject
}

func newSpool(limit int) *spool {
	return &spool{limit: limit, subjects: map[string]*subject{}}
}

// add appends e to the spool and to its subject's queue, dropping the
// oldest idle messages to make room. The dropped are returned linked
// through next (nil: none dropped) so the caller counts them without an
// allocation. When even that leaves no room (e alone is larger than the
// bound, or every older message is in flight) e itself is dropped: ok is
// false.
func (s *spool) add(e *entry) (dropped *entry, ok bool) {
	var last *entry
	for c := s.oldest; c != nil && s.bytes+e.size > s.limit; {
		n := c.next
		if !c.busy {
			s.remove(c)
			if dropped == nil {
				dropped = c
			} else {
				last.next = c
			}
			last = c
		}
		c = n
	}
	if s.bytes+e.size > s.limit {
		return dropped, false
	}
	sub := s.subjects[e.msg.Subject]
	if sub == nil {
		sub = &subject{name: e.msg.Subject}
		s.subjects[sub.name] = sub
	}
	e.subj = sub
	e.prev, e.next = s.newest, nil
	if s.newest != nil {
		s.newest.next = e
	} else {
		s.oldest = e
	}
	s.newest = e
	e.sprev, e.snext = sub.tail, nil
	if sub.tail != nil {
		sub.tail.snext = e
	} else {
		sub.head = e
	}
	sub.tail = e
	s.bytes += e.size
	s.msgs++
	return dropped, true
}

// remove unlinks e from both lists (e.next is left nil for a drop chain).
func (s *spool) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.oldest = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.newest = e.prev
	}
	sub := e.subj
	if e.sprev != nil {
		e.sprev.snext = e.snext
	} else {
		sub.head = e.snext
	}
	if e.snext != nil {
		e.snext.sprev = e.sprev
	} else {
		sub.tail = e.sprev
	}
	e.prev, e.next, e.sprev, e.snext = nil, nil, nil, nil
	s.bytes -= e.size
	s.msgs--
}

// outcome of one attempt to store a message.
type outcome int

const (
	stored   outcome = iota // acknowledged, or found already stored
	conflict                // wrong last subject sequence: look the last message up
	refused                 // a permanent refusal (4xx, no stream): given up after p.refusals
	failed                  // no answer, disconnected, 5xx: retried until it is taken
	stopped                 // the publisher stops
)

// classify sorts a publish error. A JetStream 4xx or "no responders"
// (no stream takes the subject) will not heal by retrying; a timeout, a
// lost connection or a 503 during an election will.
func classify(err error) outcome {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence,
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return conflict
		case apiErr.Code >= 400 && apiErr.Code < 500:
			return refused
		}
		return failed
	}
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return refused
	}
	return failed
}

// work publishes the queue of subject s, one message at a time, until it
// is empty or the publisher stops. It is started by enqueue when s was
// idle, so an idle subject costs no goroutine.
func (p *Publisher) work(s *subject) {
	defer p.wg.Done()
	ctx := p.wctx
	for {
		p.mu.Lock()
		e := s.head
		if e == nil || ctx.Err() != nil {
			s.active = false
			p.mu.Unlock()
			return
		}
		if nc := p.js.Conn(); nc != nil && !nc.IsConnected() {
			// Neither into nats.go's reconnect buffer (each retry would add
			// a copy there, all sent at once when the server is back) nor
			// busy: while disconnected, the spool may drop this message.
			wait, fails := p.settleLocked(s, e, failed, 0, nats.ErrDisconnected), s.fails
			p.mu.Unlock()
			if wait {
				_ = p.backoff.Wait(ctx, p.clk, fails) // ctx's end is seen on the next turn
			}
			continue
		}
		e.busy = true
		resolve, known, seq := s.resolve, s.known, s.lastSeq
		p.mu.Unlock()

		o, err := stored, error(nil)
		already := false
		if resolve {
			var id string
			seq, id, err = p.lastStored(ctx, e.stream, s.name)
			switch {
			case err != nil:
				if o = classify(err); o == conflict {
					o = failed
				}
			default:
				known = true
				p.mu.Lock()
				s.lastSeq, s.known, s.resolve = seq, true, false
				p.mu.Unlock()
				// Stored by an attempt whose answer was lost: done.
				already = id != "" && id == e.msg.Header.Get(jetstream.MsgIDHeader)
				p.log.Debug("looked up the subject's last message", "subject", s.name, "seq", seq, "stored_already", already)
			}
		}
		if err == nil && !already {
			o, seq, err = p.publishOnce(ctx, e, known, seq)
		}
		if ctx.Err() != nil && o != stored {
			o = stopped
		}
		p.mu.Lock()
		wait := p.settleLocked(s, e, o, seq, err)
		fails := s.fails
		p.mu.Unlock()
		if wait {
			_ = p.backoff.Wait(ctx, p.clk, fails) // ctx's end is seen on the next turn
		}
	}
}

// publishOnce publishes e (a retry expecting seq as the subject's last
// sequence when known) and waits for its acknowledgement, at most
// p.ackWait. It holds one of the MaxInflight slots meanwhile.
func (p *Publisher) publishOnce(ctx context.Context, e *entry, known bool, seq uint64) (outcome, uint64, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return stopped, 0, ctx.Err()
	}
	defer func() { <-p.slots }()
	m := e.msg
	if e.sent {
		// A retry: the earlier attempt may be stored although its answer
		// was lost. Expecting the subject's last sequence, JetStream
		// refuses it then (past the duplicate window too) and the look-up
		// tells. Only retries carry it: checking it makes the stream
		// leader load the subject's last message, which costs as much as
		// storing one (CPU per value +40 % in BenchmarkPoll1000Nodes), and
		// a first attempt, one in flight per subject, can neither
		// duplicate nor overtake. nats.go may still hold the earlier
		// attempt (its own retry on "no responders" resends it): send a
		// copy with its own header.
		m = &nats.Msg{Subject: e.msg.Subject, Data: e.msg.Data, Header: make(nats.Header, len(e.msg.Header)+1)}
		for k, v := range e.msg.Header {
			m.Header[k] = v
		}
		if known {
			// What jetstream.WithExpectLastSequencePerSubject sets.
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(seq, 10))
		}
	}
	e.sent = true
	fut, err := p.js.PublishMsgAsync(m)
	if err != nil {
		return classify(err), 0, err
	}
	timer, stop := p.clk.After(p.ackWait)
	defer stop()
	select {
	case ack := <-fut.Ok():
		s := ack.Sequence
		if ack.Duplicate {
			// The original's sequence: the last one unless an older
			// message came again (a batch start after a restart).
			s = max(s, seq)
		}
		return stored, s, nil
	case err := <-fut.Err():
		return classify(err), 0, err
	case <-timer:
		return failed, 0, fmt.Errorf("no acknowledgement within %s", p.ackWait)
	case <-ctx.Done():
		return stopped, 0, ctx.Err()
	}
}

// settleLocked records the outcome of an attempt on e: done and
// removed, given up, or kept for a retry. It reports whether the worker
// backs off first. Called with p.mu.
func (p *Publisher) settleLocked(s *subject, e *entry, o outcome, seq uint64, err error) (backoff bool) {
	e.busy = false
	switch o {
	case stored:
		s.lastSeq, s.known, s.fails = seq, true, 0
		p.health.ok()
		p.take(e)
		return false
	case conflict:
		// Another message is last on the subject (one whose answer was
		// lost, or one of another publisher): look it up and go on at once
		// — but back off if it keeps happening.
		s.resolve = true
		s.fails++
		p.m.errors.Inc()
		return s.fails > 3
	case stopped:
		return false
	case refused:
		e.refused++
	}
	p.m.errors.Inc()
	s.fails++
	e.tries++
	if !s.known {
		// The message may be stored although its answer was lost: look
		// before sending it again without an expected sequence.
		s.resolve = true
	}
	p.health.failed(e.tries, err)
	if e.refused > p.refusals {
		p.m.dropped.Inc()
		p.log.Error("JetStream refuses telemetry message; giving up", "subject", s.name, "tries", e.tries, "err", err)
		p.take(e)
		return false
	}
	if !e.spooled {
		e.spooled = true
		p.m.spooled.Inc()
	}
	// A leader change fails a whole window at once: log the 1st, 2nd,
	// 4th… failure, not one line per message.
	if n := p.retried.Add(1); bits.OnesCount64(uint64(n)) == 1 {
		p.log.Warn("NATS publish failed; retrying", "subject", s.name, "try", e.tries, "err", err, "failures", n)
	}
	return true
}

// take removes e from the spool (stored or given up). Called with p.mu.
func (p *Publisher) take(e *entry) {
	if e.subj == nil {
		return // dropped meanwhile
	}
	p.sp.remove(e)
	e.subj = nil
	p.spoolChanged()
}

// spoolChanged updates the gauges and the drop condition. Called with p.mu.
func (p *Publisher) spoolChanged() {
	p.m.spoolMessages.Set(float64(p.sp.msgs))
	p.m.spoolBytes.Set(float64(p.sp.bytes))
	if p.sp.bytes <= p.sp.limit/2 {
		p.drops.clear()
	}
	if p.sp.msgs == 0 {
		select {
		case p.emptied <- struct{}{}:
		default:
		}
	}
}

// lastStored looks up the subject's last message in stream (the stream
// leader's answer, $JS.API.STREAM.MSG.GET): its sequence and Nats-Msg-Id,
// 0 and "" when the subject has none.
// Not jetstream.Stream.GetLastMsgForSubject: it needs a STREAM.INFO
// first, and on a stream that allows direct gets it asks any replica,
// which may not have the message whose answer was lost yet.
func (p *Publisher) lastStored(ctx context.Context, stream, subj string) (uint64, string, error) {
	req, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{subj})
	if err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, p.ackWait)
	defer cancel()
	resp, err := p.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return 0, "", fmt.Errorf("last message of %s in %s: %w", subj, stream, err)
	}
	var r struct {
		Message *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return 0, "", fmt.Errorf("last message of %s in %s: %w", subj, stream, err)
	}
	switch {
	case r.Error != nil && r.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return 0, "", nil
	case r.Error != nil:
		return 0, "", fmt.Errorf("last message of %s in %s: %w", subj, stream, r.Error)
	case r.Message == nil:
		return 0, "", fmt.Errorf("last message of %s in %s: empty answer", subj, stream)
	}
	var id string
	if len(r.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(r.Message.Header)
		if err != nil {
			return 0, "", fmt.Errorf("last message of %s in %s: %w", subj, stream, err)
		}
		id = h.Get(jetstream.MsgIDHeader)
	}
	return r.Message.Seq, id, nil
}
