// Package reports builds, renders, signs and verifies QA batch reports.
//
// A [Report] is the record of one batch of one line: header (site, line,
// product, batch, start/end, who generated it, linewatch version, SHA-256 of
// the config in force), per-tag statistics (count, min, max, mean, standard
// deviation, Cpk, bad-quality share, data gaps), excursions, cold-chain MKT
// and time-out-of-refrigeration, SPC signals, reject fraction and yield,
// every alarm of the batch with its whole lifecycle, the audit-trail entries
// of the batch's time range, and electronic signatures (21 CFR §11.50,
// §11.70). [Build] recomputes the analytics from InfluxDB with the same
// detector code as the live engine (analytics/engine and analytics/detect),
// streaming: per-tag accumulators and min/max chart buckets, never all
// samples in memory.
//
// Renderings: JSON (the canonical record), CSV, HTML and PDF (fpdf, with
// gonum/plot charts). Every rendering carries an integrity block (see
// integrity.go and docs/reports.md): the SHA-256 of the canonical JSON of
// the report and an Ed25519 signature over it and over the SHA-256 of every
// other byte of the file, so [Verify] fails on any changed byte and says
// what failed.
//
// The package consumes small interfaces ([SampleSource], [BatchSource],
// [AlarmSource], [AuditSource], [AuditAppender]); [Influx] implements the
// first two with InfluxQL, [JetStreamAlarms] reads the ALARMS stream, and
// *audit.Log implements the audit ones.
package reports
