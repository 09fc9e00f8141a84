// Package uaclient is the collector's OPC UA client layer on top of gopcua:
//
//   - Dial: endpoint discovery (GetEndpoints), selection by configured
//     security policy and mode, the server certificate checked against the
//     trust list before any secure channel is opened, user authentication
//     (anonymous, username, certificate), reading the server's operation limits.
//   - Conn: one shared session per endpoint with its own reconnect loop
//     (exponential backoff with jitter, at most one session being created at a
//     time); poll and subscribe front ends wait for a session, use it and
//     report failures with Fail, which starts a fresh session.
//   - ReadPlan (ReadChunked for one-off reads): Read split to
//     MaxNodesPerRead, built once per session; Browse: the recursive
//     address-space walk behind `linewatch browse`.
//
// gopcua's own AutoReconnect is disabled: it restores sessions in the
// background without telling the caller, retries at a fixed interval and
// cannot re-create our monitored items, so recovery is done here explicitly.
package uaclient
