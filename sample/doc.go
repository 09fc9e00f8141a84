// Package sample is the value model shared by every part of linewatch: a
// Sample is one OPC UA value with its source timestamp, raw status code and
// batch context; a Read is the envelope in which the collector hands one
// read of one machine (its samples and batch events) to its outputs, and
// MachineStatus a machine's connection state; a Batch is what the
// collector publishes per machine per read on NATS (JSON, versioned
// schema, see docs/schemas.md).
//
// It is a leaf package (no OPC UA, NATS or InfluxDB imports) so that analytics,
// alerts, store and reports can share it without pulling in the collector.
package sample
