// Package bus is linewatch's NATS layer: subject names, the JetStream
// streams (TELEMETRY, ALARMS, BATCHES), connecting with the configured
// authentication and TLS, and the embedded NATS server that runs in-process
// when no external server is configured (demo, tests, single machine).
//
// Subjects (DESIGN.md):
//
//	linewatch.telemetry.<site>.<line>.<machine>   collector → analytics (stream TELEMETRY)
//	linewatch.alarms.<site>.<line>.<priority>     alarm transitions (stream ALARMS)
//	linewatch.batches.<site>.<line>               batch start / end (stream BATCHES)
//	linewatch.cmd.alarms.{ack,shelve,unshelve,comment,…}  operator commands (request-reply, token + proof)
//	linewatch.cmd.auth.{login,refresh,logout}     token issue (request-reply, served by alerts)
//
// KV bucket LINEWATCH_AUTH (BucketAuth): used request nonces and revoked
// tokens, shared by alerts workers; alerts role only.
package bus
