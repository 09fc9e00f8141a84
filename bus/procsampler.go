//go:build linux && !race

package bus

import (
	_ "unsafe" // go:linkname, see pseProcStatFile

	_ "github.com/nats-io/nats-server/v2/server/pse"
)

// nats-server's pse package, linked into every program that embeds the
// server, re-reads /proc/<pid>/stat once a second from its init on, to
// keep the %CPU of the server's /varz current. linewatch never serves
// /varz (the embedded server has no HTTP monitor port; process CPU is on
// /metrics from client_golang), so that sampler is only a separate wake-up
// of every linewatch process each second: ~0.3–0.5 ms of CPU per second
// on the 2-core VM of docs/performance.md, ~0.4 µs per value for a
// collector of 1 000 tags.
//
// The sampler stops re-arming itself when the file cannot be read, so the
// path is replaced by one that cannot be opened (a NUL byte: os.Open fails
// without a syscall). The replacement has the old path's length, so the
// sampler's unsynchronised read of the string header sees either path,
// whole: this is why the file is left out of race-detector builds, where
// the write would be reported and the sampler just keeps running.
// nats-server is pinned in go.mod; if an upgrade renames the variable the
// link fails, and TestProcessSamplerStopped checks the effect.

//go:linkname pseProcStatFile github.com/nats-io/nats-server/v2/server/pse.procStatFile
var pseProcStatFile string

func init() {
	if n := len(pseProcStatFile); n > 0 {
		pseProcStatFile = pseProcStatFile[:n-1] + "\x00"
	}
}
