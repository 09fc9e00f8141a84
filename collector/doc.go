// Package collector reads plant machines over OPC UA and hands every value,
// with its status code, source timestamp and batch context, to the rest of
// linewatch.
//
// The design follows Telegraf's plugins/common/opcua: one shared OPC UA
// client (session) per endpoint, with thin poll and subscribe front ends per
// machine on top of it.
//
//   - Collector (New, Run) owns everything; the lead wires it with Options:
//     a Sink for samples (InfluxDB writer), a BatchSink for batch start/end,
//     a StatusSink for connection state (measurement collector_status), an
//     optional JetStream for telemetry and batch events, a Prometheus
//     Registerer and a Clock.
//   - poller: one Read per poll group per tick, chunked to the server's
//     MaxNodesPerRead, ticks on absolute times, overruns counted as skipped.
//   - subscriber: monitored items with sampling interval, queue size and
//     deadband, created in chunks and re-created on every new session.
//   - lineBatch: follows the line's batch tag, stamps samples with the batch
//     id and emits sample.BatchEvent on changes.
//   - natsPublisher: JetStream async publish with a bounded in-flight window,
//     deterministic Nats-Msg-Id, retries.
//
// Sessions, security and reconnects live in collector/uaclient, certificates
// and the trust list in collector/pki, the injectable clock in
// internal/clock. See docs/collector.md.
package collector
