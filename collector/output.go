package collector

import (
	"context"

	"github.com/linewatch/linewatch/sample"
)

// Output receives everything the collector reads. The collector knows no
// output by name: internal/app fans its reads out to the InfluxDB writer
// and the JetStream publisher (package telemetry), like Telegraf's inputs,
// which never see its outputs.
//
// Both methods are called from the read loops: they must not block for
// long (the poll waits for them) and must not keep r or r.Samples after
// returning (the slice is reused by the next poll; see sample.Read).
type Output interface {
	// Read takes one read of one machine and the batch events it caused.
	Read(ctx context.Context, r *sample.Read)
	// Status takes a change of a machine's connection state.
	Status(ctx context.Context, st sample.MachineStatus)
}
