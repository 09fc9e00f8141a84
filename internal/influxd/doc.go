// Package influxd installs and runs a real InfluxDB 1.8.10 as a child
// process, for `linewatch demo` and for tests. InfluxDB is built from source
// with `go install` (about 90 s the first time, then cached), because the
// only reachable registry here is the Go module proxy and linewatch must run
// on a fresh machine with nothing but Go.
package influxd
