// Package e2e holds the end-to-end tests of linewatch: the real OPC UA
// simulator at accelerated time, the whole application (collector,
// analytics, alerts) as `linewatch run` starts it, a real InfluxDB 1.8 and a
// NATS server with JetStream that the tests can stop and restart. They check
// that each injected fault raises the expected alarm within the expected
// simulated time, that nothing alarms in the fault-free stretch, and that
// outages of InfluxDB, NATS and the OPC UA server lose no sample and no
// alarm transition.
package e2e
