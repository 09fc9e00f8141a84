// Package notify sends alarm notifications: it consumes alarm transitions
// from the JetStream stream ALARMS with one shared durable consumer (so any
// number of alerts workers split the work and each transition is notified
// once), routes them by line and priority (config.Alarms.Routes) to signed
// webhooks and SMTP email, escalates urgent alarms that stay unacknowledged,
// and replaces per-alarm messages with one summary during an alarm flood.
//
// Main types:
//
//   - Notifier: the consumer loop (New, Run).
//   - Payload: the JSON body posted to webhooks (the Transition plus route,
//     kind and escalation flag), signed with HMAC-SHA256 in the header
//     X-Linewatch-Signature: sha256=<hex>.
//   - Clock: time source for backoff and escalation timers (tests inject one).
//
// Exactly-once delivery is approximated by at-least-once JetStream delivery
// plus a claim per (transition, route, channel) in the KV bucket
// LINEWATCH_NOTIFY_DEDUPE: a redelivered message whose notification was
// already sent is acknowledged without sending again.
//
// State shared by the workers, in the same bucket: each line's flood
// count (key flood.<site>.<line>, compare-and-set; each activation's
// decision is kept with it so a redelivery decides the same), so several
// workers send one flood summary as one worker would; and each pending
// escalation (key escalation.<hash>: the activation, route and due time),
// armed by every worker that finds it (at start and every 10 s), sent
// once through the dedupe claim, deleted once handled — a worker that
// dies leaves its escalations to the others.
package notify
