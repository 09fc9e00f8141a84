package sample

import (
	"encoding/json"
	"fmt"
	"time"
)

// SchemaVersion is the version of the telemetry message schema on NATS.
// Bump it on any incompatible change and keep decoding the old one.
const SchemaVersion = 1

// Batch is the telemetry message published on
// linewatch.telemetry.<site>.<line>.<machine>: all values of one machine
// read together. Batching per machine keeps the message rate at one per
// machine per poll rather than one per tag.
type Batch struct {
	V       int     `json:"v"`
	Site    string  `json:"site"`
	Line    string  `json:"line"`
	Machine string  `json:"machine"`
	Batch   string  `json:"batch,omitempty"`
	Values  []Value `json:"values"`
}

// Value is one tag value inside a Batch.
type Value struct {
	Time   time.Time `json:"t"`
	Tag    string    `json:"tag"`
	Unit   string    `json:"unit,omitempty"`
	Value  float64   `json:"v"`
	Text   string    `json:"s,omitempty"`
	Status uint32    `json:"q,omitempty"`
}

// NewBatch groups samples of one machine. All samples must share
// site, line and machine.
func NewBatch(samples []Sample) Batch {
	b := Batch{V: SchemaVersion, Values: make([]Value, len(samples))}
	for i, s := range samples {
		if i == 0 {
			b.Site, b.Line, b.Machine, b.Batch = s.Site, s.Line, s.Machine, s.Batch
		}
		b.Values[i] = Value{Time: s.Time.UTC(), Tag: s.Tag, Unit: s.Unit, Value: s.Value, Text: s.Text, Status: s.Status}
	}
	return b
}

// Samples expands the batch back into samples, appending to dst.
func (b Batch) Samples(dst []Sample) []Sample {
	for _, v := range b.Values {
		dst = append(dst, Sample{
			Time: v.Time, Site: b.Site, Line: b.Line, Machine: b.Machine,
			Tag: v.Tag, Unit: v.Unit, Value: v.Value, Text: v.Text, Status: v.Status, Batch: b.Batch,
		})
	}
	return dst
}

// Marshal encodes the batch as JSON.
func (b Batch) Marshal() ([]byte, error) { return json.Marshal(b) }

// Unmarshal decodes a telemetry message and checks its schema version.
func Unmarshal(data []byte) (Batch, error) {
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return Batch{}, fmt.Errorf("telemetry message: %w", err)
	}
	if b.V != SchemaVersion {
		return Batch{}, fmt.Errorf("telemetry message: schema version %d not supported (want %d)", b.V, SchemaVersion)
	}
	return b, nil
}
