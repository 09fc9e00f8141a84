// Package edkey reads and writes the Ed25519 keys of linewatch (report
// signing key, audit service key): private keys as PKCS#8 PEM with mode
// 0600 (refused when group or others can read them), public keys as PKIX
// PEM next to them (<file>.pub), named by KeyID.
package edkey
