package reports

import (
	"context"
	"iter"
	"time"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/sample"
)

// BatchRecord is one batch of one line, from the collector's batch events.
type BatchRecord struct {
	ID      string    `json:"id"`
	Site    string    `json:"site"`
	Line    string    `json:"line"`
	Product string    `json:"product,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"` // zero while the batch runs
}

// Running reports whether no end event was seen.
func (b BatchRecord) Running() bool { return b.End.IsZero() }

// SampleQuery selects the telemetry of one line over [From, To].
type SampleQuery struct {
	Site, Line string
	From, To   time.Time
}

// SampleSource streams samples in time order (all tags of the line
// interleaved, as the live engine sees them), holding a bounded number in
// memory.
type SampleSource interface {
	Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error]
}

// BatchSource lists batches from the batch events.
type BatchSource interface {
	Batches(ctx context.Context, site, line string, since time.Time) ([]BatchRecord, error)
}

// AlarmSource returns the alarm transitions of a line from since up to now,
// in order.
type AlarmSource interface {
	Transitions(ctx context.Context, site, line string, since time.Time) ([]Transition, error)
}

// AuditSource returns the audit entries with since ≤ Time < until.
type AuditSource interface {
	Range(ctx context.Context, since, until time.Time) ([]audit.Entry, error)
}

// AuditAppender records an action in the audit trail.
type AuditAppender interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}
