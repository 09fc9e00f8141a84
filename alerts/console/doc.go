// Package console is linewatch's web operator console: one embedded HTML
// page (plain JS and CSS, no build step) that lists the active alarms of a
// site live, sorted by priority then time, and lets a logged-in operator
// acknowledge and shelve them.
//
// The console holds no alarm state of its own. It watches the JetStream KV
// bucket LINEWATCH_ALARMS for the current list and the ALARMS stream for
// the event feed, pushes both to browsers with Server-Sent Events, and turns
// button presses into NATS requests on linewatch.cmd.alarms.<verb> carrying
// the logged-in user's identity; the alarm service's Reply (success, or
// exactly why not) is shown to the operator.
//
// Main types and functions:
//
//   - Server (New, Handler, Run, Serve): the HTTP server.
//   - users come from package identity (the users file), re-read when it
//     changes so a removed user's sessions end.
//
// Security: bcrypt passwords, session cookie (HttpOnly, SameSite=Strict,
// Secure over TLS), CSRF token on every POST, same-origin check, rate
// limited login failures, strict Content-Security-Policy, TLS when
// configured.
package console
