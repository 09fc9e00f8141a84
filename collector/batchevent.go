package collector

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/config"
)

// BatchEventVersion is the schema version of BatchEvent on NATS. Version 2
// carries "batch_pct"/"product_pct" (sample.Escape) instead of
// "batch"/"product" for an id that is not UTF-8; version 1 is still decoded.
const BatchEventVersion = 2

// BatchEvent is published on linewatch.batches.<site>.<line> (stream
// BATCHES) when the line's batch tag changes: "end" for the batch that
// finished, then "start" for the new one. Schema (JSON):
//
//	{"v":2,"site":"demo-plant","line":"filling1","batch":"B-1042",
//	 "product":"AMOX-500","event":"start","time":"2026-11-23T21:00:00Z"}
//
// product is present when the line has a tag with role product_code. time
// is the source timestamp of the batch tag value that showed the change.
// The collector emits "start" for the batch it finds running when it
// starts; consumers treat a repeated start of the same batch as idempotent.
type BatchEvent struct {
	V       int       `json:"v"`
	Site    string    `json:"site"`
	Line    string    `json:"line"`
	Batch   string    `json:"batch"`
	Product string    `json:"product,omitempty"`
	Event   string    `json:"event"` // start or end
	Time    time.Time `json:"time"`
}

// Batch event kinds.
const (
	BatchStart = "start"
	BatchEnd   = "end"
)

// batchEventWire adds the percent-encoded forms of ids that are not UTF-8
// (JSON strings are Unicode: encoding/json would replace those bytes).
type batchEventWire struct {
	BatchEvent
	BatchPct   *string `json:"batch_pct,omitempty"`
	ProductPct *string `json:"product_pct,omitempty"`
}

// Marshal encodes the event as JSON.
func (e BatchEvent) Marshal() ([]byte, error) {
	w := batchEventWire{BatchEvent: e}
	w.V = BatchEventVersion
	if !utf8.ValidString(e.Batch) {
		p := sample.Escape(e.Batch)
		w.Batch, w.BatchPct = "", &p
	}
	if !utf8.ValidString(e.Product) {
		p := sample.Escape(e.Product)
		w.Product, w.ProductPct = "", &p
	}
	return json.Marshal(w)
}

// UnmarshalBatchEvent decodes a batch event (version 1 or 2).
func UnmarshalBatchEvent(b []byte) (BatchEvent, error) {
	var w batchEventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return BatchEvent{}, fmt.Errorf("batch event: %w", err)
	}
	e := w.BatchEvent
	if e.V != 1 && e.V != BatchEventVersion {
		return BatchEvent{}, fmt.Errorf("batch event: schema version %d not supported (want 1 or %d)", e.V, BatchEventVersion)
	}
	for _, f := range []struct {
		name string
		pct  *string
		dst  *string
	}{{"batch_pct", w.BatchPct, &e.Batch}, {"product_pct", w.ProductPct, &e.Product}} {
		if f.pct == nil {
			continue
		}
		s, err := sample.Unescape(*f.pct)
		if err != nil {
			return BatchEvent{}, fmt.Errorf("batch event: %s: %w", f.name, err)
		}
		*f.dst = s
	}
	if e.Event != BatchStart && e.Event != BatchEnd {
		return BatchEvent{}, fmt.Errorf("batch event: event %q, want start or end", e.Event)
	}
	return e, nil
}

// lineBatch tracks the batch running on one line. Machines of the line are
// read concurrently, so it is shared under a mutex.
type lineBatch struct {
	site, line              string
	batchMachine, batchTag  string
	productMachine, prodTag string

	mu           sync.Mutex
	known        bool
	current      string
	product      string // latest product code
	startProduct string // product code when the current batch started
}

func newLineBatch(site string, l *config.Line) *lineBatch {
	b := &lineBatch{site: site, line: l.ID}
	b.batchMachine, b.batchTag, _ = strings.Cut(l.BatchTag, "/")
	for _, m := range l.Machines {
		for _, t := range m.Tags {
			if t.Role == "product_code" && b.prodTag == "" {
				b.productMachine, b.prodTag = m.ID, t.Name
			}
		}
	}
	return b
}

// observe updates the batch from the samples of one machine, stamps every
// sample with the batch in force, and returns the events to emit.
func (b *lineBatch) observe(machine string, ss []sample.Sample) []BatchEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var evs []BatchEvent
	if b.batchTag != "" && (machine == b.batchMachine || machine == b.productMachine) {
		var batchSample *sample.Sample
		for i := range ss {
			s := &ss[i]
			if !s.Good() {
				continue // a bad read of the batch tag must not end the batch
			}
			if machine == b.productMachine && s.Tag == b.prodTag {
				b.product = textOf(s)
			}
			if machine == b.batchMachine && s.Tag == b.batchTag {
				batchSample = s
			}
		}
		if batchSample != nil {
			id := textOf(batchSample)
			t := batchSample.Time
			switch {
			case !b.known:
				b.known = true
				if id != "" {
					evs = append(evs, b.event(id, b.product, BatchStart, t))
					b.startProduct = b.product
				}
			case id != b.current:
				if b.current != "" {
					evs = append(evs, b.event(b.current, b.startProduct, BatchEnd, t))
				}
				if id != "" {
					evs = append(evs, b.event(id, b.product, BatchStart, t))
				}
				b.startProduct = b.product
			}
			b.current = id
		}
	}
	for i := range ss {
		ss[i].Batch = b.current
	}
	return evs
}

func (b *lineBatch) event(batch, product, kind string, t time.Time) BatchEvent {
	return BatchEvent{V: BatchEventVersion, Site: b.site, Line: b.line, Batch: batch, Product: product, Event: kind, Time: t.UTC()}
}

func textOf(s *sample.Sample) string {
	if s.Text != "" {
		return strings.TrimSpace(s.Text)
	}
	if s.Value == 0 {
		return ""
	}
	return strconv.FormatFloat(s.Value, 'f', -1, 64)
}
