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
package identity
