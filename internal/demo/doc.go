// Package demo runs the whole of linewatch on one machine with embedded
// defaults: the simulated plant, an embedded InfluxDB and NATS server,
// collector, analytics, alarms, the operator console, Grafana provisioning,
// a scripted fault scenario at accelerated time, and a signed batch report
// at the end of each batch. It is what `make demo` and `linewatch demo` run.
package demo
