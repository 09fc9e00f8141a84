// Package alerts turns analytics findings into ISA-18.2 alarms: the alarm
// model and state machine, shelving and suppression by design, alarm state
// in a JetStream key-value bucket (compare-and-set on revision), transitions
// published on the ALARMS stream and written to InfluxDB, operator commands
// over NATS request-reply from authenticated people (a token from a
// password login, a signed proof per command, the role from the users file
// at the time of the command), flood and chattering detection and the
// ISA-18.2 / EEMUA 191 KPIs.
//
//   - model.go: the wire types (Alarm, Transition, Command, Reply), whose
//     JSON is versioned by SchemaVersion (Command by CommandVersion) and
//     documented in docs/alarms.md.
//   - auth.go: AuthServer (linewatch.cmd.auth.login/refresh/logout) and
//     VerifyCommand, on an identity.Authority; client.go: Login and
//     ClientSession, the client side (console, CLI); text.go: the reason
//     and comment checks the service makes itself.
//   - state.go: Apply, the pure state machine (Input, Policy, Error codes).
//   - priority.go: alarm id, priority, latching and policy from config.
//   - store.go: Store, the LINEWATCH_ALARMS bucket; every change is a
//     compare-and-set; the value is the Alarm plus its outbox of
//     unpublished transitions and any finding waiting for its on/off-delay.
//   - service.go, publish.go, commands.go: Service, the worker — Notify
//     (findings), Execute and the NATS command handler, Run (timers, bucket
//     watch, graceful shutdown), publishing with deterministic Nats-Msg-Id.
//   - flood.go: per-line flood detection and flood summaries.
//   - kpi.go, read.go: ReadTransitions from ALARMS and ComputeKPI.
package alerts
