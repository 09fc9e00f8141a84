// Package edkey reads and writes the Ed25519 keys of linewatch (report
// signing key, audit service key): private keys as PKCS#8 PEM with mode
// 0600 (refused when group or others can read them), public keys as PKIX
// PEM next to them (<file>.pub), named by KeyID. A key file appears
// whole or not at all (written aside, synced, then published; the
// private key by a hard link, which never replaces an existing one), so
// processes that create the same key at once all end up with the one
// that was published first.
package edkey
