// Package testenv starts the real components linewatch tests run against:
// one InfluxDB 1.8.10 per test binary (a fresh database per test) and an
// embedded NATS server with JetStream per test (it starts in milliseconds,
// so tests never share stream state). Nothing here is a mock.
//
// Use from a package's tests:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//	func TestX(t *testing.T) { db := testenv.Influx(t); nc := testenv.NATSConn(t); … }
package testenv
