// Package store is the InfluxDB side of linewatch: it writes every sample
// and event to InfluxDB and reads samples back for analytics replay,
// reports and dashboard tests. Schema, spool format and retry policy are
// described in docs/storage.md.
//
// Writer encodes samples (measurement "telemetry") and Points (alarms,
// batches, spc, collector_status; see AlarmRecord, BatchRecord, SPCRecord,
// StatusRecord) into line-protocol batches, sealed by size
// (influxdb.batch_size) or time (influxdb.flush_interval), and sends them
// gzip'd over plain HTTP with several parallel requests. Transient
// failures (network, timeout, 5xx, 429 with Retry-After, and 401/403/404,
// which need an operator) are retried with exponential backoff and
// jitter; meanwhile batches go to a crash-safe on-disk spool (segment
// files of CRC-32C framed records, fsync'd per batch) that is replayed in
// order when InfluxDB answers again or the process restarts. Other 4xx
// answers drop only the refused lines, which are counted and logged.
//
// Client queries with InfluxQL over the v1 /query endpoint, which
// InfluxDB 1.8, 2.x (DBRP) and 3.x serve; Client.Samples, the one reader
// of telemetry, streams a time range in time order, read in windows with
// chunked CSV responses, so memory stays bounded whatever the range;
// Client.Batches pairs the batch events.
//
// store owns the InfluxDB schema: the measurement, tag and field names
// (schema.go, points.go) that reports and dashboards query with.
//
// The Writer talks to InfluxDB 2.x (/api/v2/write, org and bucket, token)
// and 1.8+ (/write, database and retention policy, "user:password").
package store
