// Package engine routes samples to the detectors that the config's analytics
// rules attach to each tag, and runs them live (a durable JetStream consumer
// on TELEMETRY with checkpointed detector state) or offline (a CSV file or
// an InfluxDB range). The detectors are the pure functions of
// analytics/detect and analytics/pca: the same code gives the same findings
// live, on a replay, and inside a batch report.
//
// Findings leave through Notifier and statistics through StatsWriter, small
// interfaces declared here and implemented by alerts and store. When the
// alerts workers run in other processes, Publisher is the Notifier: it
// publishes findings and machine-state changes on stream FINDINGS (wire
// format in package analytics, stream.go).
package engine
