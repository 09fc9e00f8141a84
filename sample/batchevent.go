package sample

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// BatchEventVersion is the schema version of BatchEvent on NATS. Version 2
// carries "batch_pct"/"product_pct" (Escape) instead of
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
		p := Escape(e.Batch)
		w.Batch, w.BatchPct = "", &p
	}
	if !utf8.ValidString(e.Product) {
		p := Escape(e.Product)
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
		s, err := Unescape(*f.pct)
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
