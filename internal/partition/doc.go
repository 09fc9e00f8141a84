// Package partition shares named partitions (analytics: the lines of a
// site) among any number of workers, with one owner per partition at a
// time, through a NATS JetStream key-value bucket: no home-made consensus.
//
// A lease is the key <group>.lease.<partition>, created (Create: only if
// absent) by the worker that takes the partition and renewed by a
// compare-and-set Update on its last revision. The bucket's MaxAge is the
// lease TTL, so the key of a worker that stops renewing (SIGKILL, network
// partition) disappears and another worker's Create succeeds: takeover
// within TTL + one renewal interval. A clean shutdown deletes the key, so
// takeover is immediate.
//
// The holder stops working on a partition as soon as it cannot prove it
// still holds it: a renewal refused by the compare-and-set (someone else's
// key), or no successful renewal for TTL − Renew by its own monotonic clock
// (the server expires the key TTL after the last renewal was stored, later
// than it was sent). Writes that must not happen after a takeover are
// fenced by the caller with Lease.Held and Lease.Epoch (the key's revision
// when it was taken, which a new owner's lease always exceeds).
//
// Workers announce themselves with member keys <group>.member.<worker>
// (renewed with the leases, expiring with the same TTL); each worker holds
// at most ceil(partitions / members) and releases its least preferred
// partitions above that share when a worker joins (rebalance), so load
// spreads without a coordinator. Preference is rendezvous hashing of
// worker and partition, so the same worker tends to get the same lines.
//
// All timing runs on internal/clock, so tests drive it with a fake clock.
package partition
