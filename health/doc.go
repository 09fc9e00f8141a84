// Package health carries system (diagnostic) conditions — an OPC UA
// session lost, InfluxDB refusing writes, the spool filling, NATS publish
// failing, the notifier without its consumer, analytics lagging — from the
// component that sees them to the alarm service, which raises them as
// ISA-18.2 alarms like any finding.
//
// A component reports through a func field of its own Options
// (func(health.Condition)); a Registry remembers the current state of every
// condition, exports it as the gauge linewatch_health_condition and hands
// each change to Run, which publishes it on JetStream stream HEALTH
// (subject linewatch.health.<site>.<source>.<condition>.<line>.<machine>).
// Changes made while NATS is unreachable are queued (bounded) and
// published in order once it is back, and the active conditions are
// republished at an interval, so the alarm service sees every raise and
// clear even if it, or NATS, was down when it happened. The message id is
// derived from the condition and the time of the change, so republishing
// never creates a second alarm transition.
//
// The package is a leaf: it imports nothing of linewatch. It owns the
// message schema (Condition, version V) and its decoder (Decode).
package health
