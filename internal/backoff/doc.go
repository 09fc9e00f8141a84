// Package backoff is the one retry-delay schedule of linewatch: how long
// to wait before the nth retry of something that failed (an OPC UA
// session, an InfluxDB write, a notification, a JetStream publish, a CAS
// conflict), and a context-aware wait on an internal/clock Clock so tests
// drive retries with clock.Fake instead of sleeping.
//
// A Policy grows from Min to Max, exponentially (doubling, the default)
// or linearly, optionally with jitter so that many clients failing
// together do not retry in lockstep.
package backoff
