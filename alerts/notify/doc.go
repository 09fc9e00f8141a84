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
// Limits: escalation timers and flood counters live in the worker that
// received the activation. A worker restart forgets its pending
// escalations, and with several workers each counts only the activations it
// received, so a flood is detected later (per worker) than with one worker.
package notify
