// Package telemetry is the collector's JetStream output. Publisher takes
// every read of the collector (a collector.Output) and publishes its
// samples on stream TELEMETRY, one message per machine per read, and its
// batch start/end events on stream BATCHES, with deterministic
// Nats-Msg-Ids (deduplicated by the streams). A read never waits for
// NATS: its messages wait in a bounded in-memory spool (spool.go) and are
// published in order per subject, one in flight per subject, retried with
// backoff until JetStream stores them; a retry expects the subject's last
// stream sequence, so it can neither duplicate nor reorder. A publish
// failing for about a second raises the system alarm "NATS publish
// failing"; a full spool drops its oldest messages and raises "NATS spool
// dropping".
//
// It owns the write side of those streams: message ids and what goes in a
// message. The wire formats (telemetry schema v2, batch event v2) and
// their decoders are in package sample, which analytics, alerts and
// reports read with (sample.Unmarshal, sample.UnmarshalBatchEvent); the
// stream names, subjects and the roles allowed on them are in package bus,
// which sets the streams up. The collector does not import this package:
// internal/app fans each read out to the InfluxDB writer and to it.
package telemetry
