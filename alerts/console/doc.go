// Package console is linewatch's web operator console: one embedded HTML
// page (plain JS and CSS, no build step; uPlot vendored for trends) with
// an ISA-101 alarm summary of a site: one row per alarm condition (the
// limit levels of a tag share a row), live, filtered and sorted as the
// operator chooses, with shelved and history views, the tag's trend
// around an alarm, a sound and flash for new urgent alarms, and the
// actions the logged-in user's role may take (alerts.Actions). Every
// value and time is formatted by the server (internal/display).
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
//   - rows.go: the summary rows (condition grouping, formatting, actions);
//     feed.go: the live list and event feed; history.go and trend.go: the
//     history pages (alerts.Reader.History) and trends (store samples).
//   - users come from package identity (the users file), re-read when it
//     changes so a removed user's sessions end.
//
// Security: bcrypt passwords, session cookie (HttpOnly, SameSite=Strict,
// Secure over TLS), CSRF token on every POST, same-origin check, rate
// limited login failures, strict Content-Security-Policy, TLS when
// configured.
package console
