package detect

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// steady is an in-control stream (4.9 / 5.1 alternating each minute, and
// for the p-chart counters rising by 100 good and 3 rejects per read) on
// which no detector changes state once warmed up.
func steady(name string, i int) sample.Sample {
	if name == "p_chart" {
		s := smp(at(time.Duration(i/2)*time.Minute), float64(i/2*100))
		s.Tag = "good"
		if i%2 == 1 {
			s.Tag, s.Value = "rej", float64(i/2*3)
		}
		return s
	}
	return smp(at(time.Duration(i)*time.Minute), 4.9+0.2*float64(i%2))
}

func TestUpdateDoesNotAllocateWithoutFindings(t *testing.T) {
	for name, mk := range factories(t) {
		d := mk()
		buf := make([]analytics.Finding, 0, 16)
		i := 0
		for ; i < 500; i++ {
			buf = d.Update(steady(name, i), buf[:0])
		}
		allocs := testing.AllocsPerRun(200, func() {
			buf = d.Update(steady(name, i), buf[:0])
			if len(buf) != 0 {
				t.Fatalf("%s: unexpected finding %v", name, edges(buf))
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Update without findings, want 0", name, allocs)
		}
	}
}

// benchSamples is an in-control stream with noise, one reading per second.
// The SPC benchmarks use noise below the chart's sigma so that they measure
// the no-finding path the targets are about (a finding costs a few µs:
// message, evidence map, SHA-256 id).
func benchSamples(n int, mean, sd float64) []sample.Sample {
	r := rand.New(rand.NewPCG(3, 4))
	ss := make([]sample.Sample, n)
	for i := range ss {
		ss[i] = smp(at(time.Duration(i)*time.Second), mean+sd*r.NormFloat64())
	}
	return ss
}

func benchDetector(b *testing.B, d Detector, ss []sample.Sample) {
	buf := make([]analytics.Finding, 0, 64)
	for _, s := range ss {
		buf = d.Update(s, buf[:0])
	}
	// Time must keep increasing so time-based detectors do their full
	// work: shift the whole stream once per pass (amortised away).
	span := ss[len(ss)-1].Time.Sub(ss[0].Time) + time.Second
	b.ReportAllocs()
	b.ResetTimer()
	j := 0
	for b.Loop() {
		if j == len(ss) {
			b.StopTimer()
			for k := range ss {
				ss[k].Time = ss[k].Time.Add(span)
			}
			j = 0
			b.StartTimer()
		}
		buf = d.Update(ss[j], buf[:0])
		j++
	}
}

func BenchmarkLimits(b *testing.B) {
	d, _ := NewLimits(LimitsParams{Lo: F(2), Hi: F(8), LoLo: F(0), HiHi: F(10), OnDelay: time.Minute, OffDelay: time.Minute, Deadband: 0.2})
	benchDetector(b, d, benchSamples(1<<12, 5, 0.5))
}

func BenchmarkEWMA(b *testing.B) {
	d, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 5, Sigma: 0.5}, Lambda: 0.2})
	benchDetector(b, d, benchSamples(1<<12, 5, 0.25))
}

func BenchmarkCUSUM(b *testing.B) {
	d, _ := NewCUSUM(CUSUMParams{SPCParams: SPCParams{Mean: 5, Sigma: 0.5}})
	benchDetector(b, d, benchSamples(1<<12, 5, 0.25))
}

func BenchmarkNelsonAllRules(b *testing.B) {
	d, _ := NewNelson(NelsonParams{SPCParams: SPCParams{Mean: 5, Sigma: 0.5}, MovingRange: true})
	// Alternating ±0.2σ with 0.04σ noise: rules 4 and 7 become active
	// once and stay, no other rule changes, so this is the no-finding path
	// with all eight rules and the moving range evaluated on every point.
	ss := benchSamples(1<<12, 0, 0.02)
	for i := range ss {
		ss[i].Value += 5 + 0.1*float64(1-2*(i%2))
	}
	benchDetector(b, d, ss)
}

func BenchmarkPageHinkley(b *testing.B) {
	d, _ := NewPageHinkley(PageHinkleyParams{})
	benchDetector(b, d, benchSamples(1<<12, 5, 0.5))
}

func BenchmarkRollingMKT24h(b *testing.B) {
	d, _ := NewRollingMKT(MKTColdChain())
	benchDetector(b, d, benchSamples(1<<12, 5, 0.5))
}

// BenchmarkRollingMKT24hQuantised: readings at 0.1 °C resolution, as
// most loggers report; the weight cache then saves most exp() calls.
func BenchmarkRollingMKT24hQuantised(b *testing.B) {
	d, _ := NewRollingMKT(MKTColdChain())
	ss := benchSamples(1<<12, 5, 0.5)
	for i := range ss {
		ss[i].Value = math.Round(ss[i].Value*10) / 10
	}
	benchDetector(b, d, ss)
}

func BenchmarkTOR(b *testing.B) {
	d, _ := NewTOR(TORColdChain(time.Hour))
	benchDetector(b, d, benchSamples(1<<12, 5, 0.5))
}

func BenchmarkFlatline(b *testing.B) {
	d, _ := NewFlatline(FlatlineParams{Duration: time.Hour})
	benchDetector(b, d, benchSamples(1<<12, 5, 0.5))
}
