//go:build linux && !race

package bus

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server/pse"
)

// nats-server's per-second /proc sampler ends at its next run: its path
// cannot be opened, and the server's own reader fails the same way.
func TestProcessSamplerStopped(t *testing.T) {
	if !strings.HasSuffix(pseProcStatFile, "\x00") || !strings.HasPrefix(pseProcStatFile, "/proc/") {
		t.Fatalf("pse path = %q, want /proc/<pid>/sta + NUL", pseProcStatFile)
	}
	var cpu float64
	var rss, vss int64
	if err := pse.ProcUsage(&cpu, &rss, &vss); err == nil {
		t.Fatalf("pse.ProcUsage read the process stat file (rss %d): the sampler would still run every second", rss)
	}
}
