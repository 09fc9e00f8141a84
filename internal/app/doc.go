// Package app wires linewatch together: it starts (or connects to) NATS and
// InfluxDB, runs the roles a process was asked for (collector, analytics,
// alerts, console) and shuts everything down within a time limit when its
// context ends, draining queues first. cmd/linewatch stays thin: flags →
// app.Run(ctx) → exit code.
package app
