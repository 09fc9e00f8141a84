package dashboards_test

import (
	"testing"

	"github.com/linewatch/linewatch/dashboards"
)

// BenchmarkBuild measures generating every dashboard of the demo plant.
func BenchmarkBuild(b *testing.B) {
	cfg, err := demoConfigF()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := dashboards.Build(cfg, dashboards.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
