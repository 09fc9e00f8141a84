package config

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// bigConfig is one machine with n tags in one poll group, the shape of the
// collector benchmark (internal/cmd/collectorbench).
func bigConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("site: plant1\nlines:\n  - id: line1\n    machines:\n      - id: m1\n        endpoint: opc.tcp://127.0.0.1:4840\n        tags:\n")
	for i := range n {
		fmt.Fprintf(&b, "          - {name: t%05d, node_id: \"ns=2;s=extra.t%05d\", unit: °C, decimals: 2}\n", i, i)
	}
	b.WriteString("        poll_groups:\n          - name: all\n            interval: 1s\n            tags: [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "t%05d", i)
	}
	b.WriteString("]\n")
	return []byte(b.String())
}

// BenchmarkParse20kTags reports the time to load a 20 000-tag config and
// the memory the loaded config keeps (live bytes per tag after a GC): the
// collector holds it for its whole life.
func BenchmarkParse20kTags(b *testing.B) {
	data := bigConfig(20000)
	var keep *Config
	for b.Loop() {
		c, err := Parse(data, "big.yaml")
		if err != nil {
			b.Fatal(err)
		}
		keep = c
	}
	var before, after runtime.MemStats
	keep = nil
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep, _ = Parse(data, "big.yaml")
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/20000, "live-B/tag")
	runtime.KeepAlive(keep)
}
