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
//   - The worker, Service, one job per file: service.go (Options, the
//     New), deps.go (what it is given: PointWriter, Auditor),
//     ingest.go (Notify: findings → store, with on/off-delays and retries),
//     suppression.go (machine states → suppression by design), index.go
//     (what the timers need, kept current by the bucket watch), timers.go
//     (Tick: shelve expiry, delayed findings, outbox replay), run.go (Run:
//     command subscriptions and graceful shutdown), publish.go (ALARMS with
//     deterministic Nats-Msg-Id), commands.go (Execute and the command
//     handler).
//   - flood.go: per-line flood detection and flood summaries.
//   - findings.go: RunFindings, the consumer of stream FINDINGS (findings
//     and machine states from analytics in other processes; the wire
//     format is analytics.DecodeMessage's).
//   - linefeed.go: LineFeed, the notifier of an analytics engine in this
//     process: machine states and findings applied in process-time order
//     (analytics.ProcessOrder), as they are on FINDINGS.
//   - reader.go: Reader, what clients (console, notifier, CLI, reports)
//     read with: Get, List and Watch of the bucket, Transitions and Follow
//     of ALARMS, through the one decoder of each message that checks its
//     schema version (DecodeAlarm, DecodeTransition).
//   - kpi.go: ComputeKPI.
package alerts
