// Package cluster runs linewatch the way docs/deployment.md lays it out,
// on one machine, for the cluster tests, `make cluster-demo` and the
// whole-pipeline benchmark: three real nats-server processes (built from
// the nats-server module go.mod requires) with JetStream and cluster
// routes, the role credentials and permission sets of bus.Permissions,
// each linewatch role a `linewatch run --roles X` process of its own, the
// OPC UA simulator and a real InfluxDB 1.8.
//
// It can SIGKILL and restart a node or a process, find the leader of a
// stream or bucket, and compute the reference a run is judged against:
// the whole TELEMETRY stream replayed through the same analytics engine
// (and those findings through one in-process alerts worker), compared
// finding by finding and transition by transition with what the cluster
// produced (Compare).
package cluster
