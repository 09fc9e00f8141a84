// Package identity owns the users file: who may act in linewatch, with
// which role, and how a password is checked. The alarm service, the
// operator console and QA e-signatures read it through this package only,
// so a user removed or demoted in the file loses the old rights everywhere
// at the next check.
//
// The file holds one "user:role:bcrypt-hash[:printed name]" line per user;
// HashUser makes such a line (`linewatch console adduser`).
//
// Main types:
//
//   - Users (ParseUsers, LoadUsers, Check): one parsed copy of the file.
//   - Directory: the file as it is now, re-read when it changes, keeping
//     the last good copy when an edit leaves it unreadable or invalid.
//   - Authority (authority.go): password login → token signed by the
//     service's Ed25519 key (Signer, token.go) and bound to the requester's
//     RequestKey; Verify checks token, per-request proof, revocation, replay
//     (KV bucket LINEWATCH_AUTH, shared by workers) and returns the user's
//     current record. Reusable by any request handler of the alerts role.
//   - Limiter: password attempts reserved before the bcrypt check, per key
//     (user at an address, …), with a cap on concurrent checks.
package identity
