package sample

import "time"

// Read is one read of one machine as the collector hands it to its
// outputs (InfluxDB, JetStream, …): a poll group's tick or a
// subscription's notification, with the batch events it caused.
type Read struct {
	Site, Line, Machine string
	// Group is the poll group or subscription that read.
	Group string
	// Tick names the read (the telemetry message id is built from it): a
	// poll group's grid time, never repeated by that group even across a
	// backward step of the wall clock, or a subscription's receive time.
	// Sample times are source timestamps, not the tick.
	Tick time.Time
	// Samples are the values read, each stamped with the batch in force.
	// The slice is only valid during the output's call: a poll group
	// reuses it every tick (at 20 000 tags it is 3 MB, which would
	// otherwise be garbage every poll), so an output that keeps samples
	// copies them. Never empty.
	Samples []Sample
	// Batches are the batch start and end events this read caused, in
	// order (usually none).
	Batches []BatchEvent
}

// MachineStatus is a machine's OPC UA connection state at a point in time
// (InfluxDB measurement collector_status, so gaps have a visible reason).
type MachineStatus struct {
	Time      time.Time // UTC
	Site      string
	Line      string
	Machine   string
	Endpoint  string
	Connected bool
	Reason    string // why it is disconnected ("" when connected)
}
