// Package audit is linewatch's audit trail (21 CFR Part 11 §11.10(e), EU
// GMP Annex 11 §9): an append-only, hash-chained log of every
// person-caused action — alarm commands, configuration loaded, report
// signatures.
//
// Each Entry holds the SHA-256 of the previous entry (Prev) and its own hash
// over a canonical encoding of all its fields (Hash), so that changing,
// deleting or reordering any entry breaks the chain at a place Verify names.
// Log stores the entries in the JetStream stream AUDIT (deny delete, deny
// purge, file storage); the entry sequence is the stream sequence and every
// append is published with an expected last sequence, so two appenders
// cannot fork the chain. WriteJSONL / ReadJSONL are the exportable file form.
package audit
