package detect

import (
	"testing"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

type noop struct{ n int }

func (noop) Name() string { return "noop" }
func (d *noop) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if usable(s) {
		d.n++
	}
	return dst
}
func (noop) AppendStats(dst []Stat) []Stat { return dst }
func (noop) Snapshot() ([]byte, error)     { return nil, nil }
func (noop) Restore([]byte) error          { return nil }

func BenchmarkHarnessNoop(b *testing.B) { benchDetector(b, &noop{}, benchSamples(1<<12, 5, 0.5)) }
