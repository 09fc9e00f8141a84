// Package collector reads plant machines over OPC UA and hands every read,
// with each value's status code, source timestamp and batch context, to
// one Output. It knows no output by name and imports no output package:
// internal/app fans its reads out to the InfluxDB writer and the
// JetStream publisher (package telemetry).
//
// The design follows Telegraf's plugins/common/opcua: one shared OPC UA
// client (session) per endpoint, with thin poll and subscribe front ends per
// machine on top of it.
//
//   - Collector (New, Run) owns everything; the lead wires it with Options:
//     an Output for every read (sample.Read: samples and the batch events
//     they caused) and every change of connection state
//     (sample.MachineStatus), a Health func, a Prometheus Registerer and a
//     Clock.
//   - poller: one Read per poll group per tick, chunked to the server's
//     MaxNodesPerRead, ticks on absolute times, overruns counted as skipped.
//   - subscriber: monitored items with sampling interval, queue size and
//     deadband, created in chunks and re-created on every new session.
//   - lineBatch: follows the line's batch tag, stamps samples with the batch
//     id and emits sample.BatchEvent on changes, in the read's envelope.
//
// Sessions, security and reconnects live in collector/uaclient, certificates
// and the trust list in collector/pki, the injectable clock in
// internal/clock. See docs/collector.md.
package collector
