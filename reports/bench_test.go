package reports

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// Large batch: 8 hours of 200 tags read every second (5.76 million samples).
const (
	bigMachines = 10
	bigTagsPer  = 20
	bigSpan     = 8 * time.Hour
)

// bigConfig is a line of 10 machines × 20 tags polled at 1 s; tag 0 of
// every machine is a critical temperature with limits, MKT and TOR, tags 1
// and 2 of machine 0 are good/reject counters with a p-chart and yield.
func bigConfig() string {
	var b strings.Builder
	b.WriteString("site: plant1\nlines:\n  - id: big\n    machines:\n")
	for m := range bigMachines {
		fmt.Fprintf(&b, "      - id: m%d\n        endpoint: opc.tcp://127.0.0.1:4840\n        poll_groups:\n          - name: all\n            interval: 1s\n            tags: [", m)
		for t := range bigTagsPer {
			if t > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "t%d", t)
		}
		b.WriteString("]\n        tags:\n")
		for t := range bigTagsPer {
			switch {
			case t == 0:
				fmt.Fprintf(&b, "          - {name: t%d, node_id: \"ns=2;s=m%dt%d\", unit: °C, role: temperature, critical: true, limits: {lo: 2, hi: 8}, spec: {lsl: 2, usl: 8}}\n", t, m, t)
			case m == 0 && t == 1:
				fmt.Fprintf(&b, "          - {name: t%d, node_id: \"ns=2;s=m%dt%d\", role: good_count}\n", t, m, t)
			case m == 0 && t == 2:
				fmt.Fprintf(&b, "          - {name: t%d, node_id: \"ns=2;s=m%dt%d\", role: reject_count}\n", t, m, t)
			default:
				fmt.Fprintf(&b, "          - {name: t%d, node_id: \"ns=2;s=m%dt%d\", role: weight, limits: {hi: 110}, spec: {lsl: 90, usl: 110}}\n", t, m, t)
			}
		}
	}
	b.WriteString(`analytics:
  rules:
    - name: limits
      tags: ["big/*/t0", "big/*/t5"]
      limits: {}
    - name: cold chain
      tags: ["big/*/t0"]
      mkt: {window: 24h, limit: 8}
      tor: {low: 2, high: 8, budget: 2h}
    - name: drift
      tags: ["big/*/t7"]
      ewma: {lambda: 0.05, l: 3.5, baseline: {mean: 100, sigma: 1}}
      cusum: {k: 0.5, h: 10, baseline: {mean: 100, sigma: 1}}
    - name: rejects
      tags: [big/m0/t2]
      p_chart: {good_tag: t1, reject_tag: t2, subgroup: 10m, p_bar: 0.01}
      yield: {good_tag: t1, reject_tag: t2, min: 0.98}
`)
	return b.String()
}

// bigValue is the deterministic value of machine m, tag t at second i.
func bigValue(m, t, i int) float64 {
	switch {
	case t == 0:
		v := 5 + 0.5*math.Sin(float64(i)/300+float64(m))
		if m == 3 && i >= 7200 && i < 7800 { // a 10-minute excursion
			v = 9
		}
		return math.Round(v*100) / 100
	case m == 0 && t == 1:
		return float64(i * 10)
	case m == 0 && t == 2:
		return float64(i / 10)
	default:
		return math.Round((100+2*math.Sin(float64(i*(t+1))/97))*1000) / 1000
	}
}

type memSource struct{ start time.Time }

func (s memSource) Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		n := int(bigSpan / time.Second)
		names := make([]string, bigTagsPer)
		for t := range names {
			names[t] = fmt.Sprintf("t%d", t)
		}
		machines := make([]string, bigMachines)
		for m := range machines {
			machines[m] = fmt.Sprintf("m%d", m)
		}
		for i := 0; i <= n; i++ {
			ts := s.start.Add(time.Duration(i) * time.Second)
			for m := range bigMachines {
				for t := range bigTagsPer {
					if !yield(sample.Sample{Time: ts, Site: q.Site, Line: q.Line, Machine: machines[m], Tag: names[t], Value: bigValue(m, t, i)}, nil) {
						return
					}
				}
			}
		}
	}
}

// BenchmarkBuildLargeBatchCompute measures the analytics of an 8-hour
// batch of 200 tags at 1 s (5.76 M samples) without InfluxDB.
func BenchmarkBuildLargeBatchCompute(b *testing.B) {
	cfg := writeConfig(b, b.TempDir(), bigConfig())
	batch := BatchRecord{ID: "BIG-1", Site: "plant1", Line: "big", Start: t0, End: t0.Add(bigSpan)}
	for b.Loop() {
		r, err := Build(context.Background(), cfg, batch, Sources{Samples: memSource{t0}}, Options{GeneratedBy: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if r.Header.SamplesRead != int64(bigMachines*bigTagsPer*(int(bigSpan/time.Second)+1)) {
			b.Fatalf("read %d samples", r.Header.SamplesRead)
		}
	}
	b.ReportMetric(float64(bigMachines*bigTagsPer*(int(bigSpan/time.Second)+1)), "samples/op")
}

// BenchmarkBuildLargeBatchInflux is the whole report of the large batch:
// InfluxDB query (streamed), analytics, PDF. It writes the 5.76 M points
// first (not timed), so it runs only with LINEWATCH_BENCH_LARGE=1:
//
//	LINEWATCH_BENCH_LARGE=1 go test -run '^$' -bench BuildLargeBatchInflux -benchtime 1x -benchmem ./reports/
func BenchmarkBuildLargeBatchInflux(b *testing.B) {
	if os.Getenv("LINEWATCH_BENCH_LARGE") == "" {
		b.Skip("set LINEWATCH_BENCH_LARGE=1: writes 5.76 million points to InfluxDB first")
	}
	cfg := writeConfig(b, b.TempDir(), bigConfig())
	db := testenv.Influx(b)
	batch := BatchRecord{ID: "BIG-1", Site: "plant1", Line: "big", Start: t0, End: t0.Add(bigSpan)}
	var lp bytes.Buffer
	flush := func() {
		writeLP(b, db, lp.Bytes())
		lp.Reset()
	}
	fmt.Fprintf(&lp, "batches,line=big,site=plant1 batch=\"BIG-1\",event=\"start\" %d\nbatches,line=big,site=plant1 batch=\"BIG-1\",event=\"end\" %d\n", t0.UnixNano(), t0.Add(bigSpan).UnixNano())
	n := int(bigSpan / time.Second)
	for i := 0; i <= n; i++ {
		ns := t0.Add(time.Duration(i) * time.Second).UnixNano()
		for m := range bigMachines {
			for t := range bigTagsPer {
				fmt.Fprintf(&lp, "telemetry,batch=BIG-1,line=big,machine=m%d,site=plant1,tag_name=t%d quality=0i,value=%g %d\n", m, t, bigValue(m, t, i), ns)
			}
		}
		if lp.Len() > 8<<20 {
			flush()
		}
	}
	flush()
	src := &Influx{URL: db.URL, Database: db.Database}
	_, priv, _ := ed25519GenerateKey()
	b.ResetTimer()
	for b.Loop() {
		var ms runtime.MemStats
		influxCPU0, selfCPU0 := childCPU(b, "influxd"), selfCPU()
		r, err := Build(context.Background(), cfg, batch, Sources{Samples: src}, Options{GeneratedBy: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Render(r, "pdf", priv, time.Now()); err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(r.Header.SamplesRead), "samples/op")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
		// CPU seconds, so the figure can be judged on a loaded machine too.
		b.ReportMetric(childCPU(b, "influxd")-influxCPU0, "influxd-cpu-s")
		b.ReportMetric(selfCPU()-selfCPU0, "report-cpu-s")
	}
}

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// childCPU is the CPU time (s) of this process's running children named
// comm, from /proc (Linux; 0 elsewhere).
func childCPU(tb testing.TB, comm string) float64 {
	ents, _ := os.ReadDir("/proc")
	var ticks float64
	for _, e := range ents {
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i || s[i+1:j] != comm {
			continue
		}
		f := strings.Fields(s[j+2:])
		if len(f) < 13 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + st
	}
	return ticks / 100 // USER_HZ
}
