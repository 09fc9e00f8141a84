package collector

import (
	"context"
	"time"

	"github.com/linewatch/linewatch/sample"
)

// Sink receives the samples of one read (or one subscription notification)
// of one machine. The slice is only valid during the call: a poll group
// reuses it every tick (at 20 000 tags it is 3 MB, which would otherwise be
// garbage every poll), so a sink that keeps samples copies them.
// Implementations must not block for long: the poll loop waits for them.
type Sink interface {
	Samples(ctx context.Context, ss []sample.Sample)
}

// BatchSink receives batch start and end events (InfluxDB measurement "batches").
type BatchSink interface {
	BatchEvent(ctx context.Context, ev sample.BatchEvent)
}

// StatusSink receives connection status changes of a machine
// (InfluxDB measurement "collector_status", so gaps are visible).
type StatusSink interface {
	Status(ctx context.Context, st Status)
}

// Status is a machine's connection state at a point in time.
type Status struct {
	Time      time.Time // UTC
	Site      string
	Line      string
	Machine   string
	Endpoint  string
	Connected bool
	Reason    string // why it is disconnected ("" when connected)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, ss []sample.Sample)

func (f SinkFunc) Samples(ctx context.Context, ss []sample.Sample) { f(ctx, ss) }

// BatchSinkFunc adapts a function to BatchSink.
type BatchSinkFunc func(ctx context.Context, ev sample.BatchEvent)

func (f BatchSinkFunc) BatchEvent(ctx context.Context, ev sample.BatchEvent) { f(ctx, ev) }

// StatusSinkFunc adapts a function to StatusSink.
type StatusSinkFunc func(ctx context.Context, st Status)

func (f StatusSinkFunc) Status(ctx context.Context, st Status) { f(ctx, st) }
