package store

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/internal/unencodable"
)

// Error kinds counted by linewatch_store_write_errors_total.
const (
	errKindNetwork  = "network"   // connection refused, reset, DNS, timeout
	errKindServer   = "server"    // 5xx
	errKindThrottle = "throttled" // 429
	errKindAuth     = "auth"      // 401, 403, 404 (missing database): kept and retried
	errKindRejected = "rejected"  // other 4xx: batch dropped
	errKindPartial  = "partial"   // 400 partial write: good lines stored, bad ones dropped
	errKindEncode   = "encode"    // a sample or point that has no line-protocol form
)

type metrics struct {
	linesWritten  prometheus.Counter
	batches       prometheus.Counter
	writeErrors   *prometheus.CounterVec
	retries       prometheus.Counter
	rejectedLines prometheus.Counter
	spoolBytes    prometheus.Gauge
	linesLost     *prometheus.CounterVec
	memoryBytes   prometheus.Gauge
	latency       prometheus.Histogram
	unencodable   *prometheus.CounterVec // sink=influxdb, reason

	spoolUsed atomic.Int64 // spoolBytes, readable by Writer.Status
}

func (m *metrics) setSpoolBytes(n int64) {
	m.spoolBytes.Set(float64(n))
	m.spoolUsed.Store(n)
}

// Reasons of linewatch_values_unencodable_total{sink="influxdb"}.
const (
	reasonTimeRange = "time_out_of_range" // restamped with the write time
	reasonOther     = "unencodable"       // dropped (see the log)
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		linesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "linewatch_store_lines_written_total",
			Help: "Line-protocol lines accepted by InfluxDB.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "linewatch_store_batches_written_total",
			Help: "Batches accepted by InfluxDB.",
		}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linewatch_store_write_errors_total",
			Help: "Failed InfluxDB writes and encoding errors by kind (network, server, throttled, auth, rejected, partial, encode).",
		}, []string{"kind"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "linewatch_store_retries_total",
			Help: "Write attempts that repeat a batch that failed before.",
		}),
		rejectedLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "linewatch_store_rejected_lines_total",
			Help: "Lines InfluxDB refused (4xx, partial writes) or that could not be encoded; they are not retried.",
		}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "linewatch_store_spool_bytes",
			Help: "Bytes waiting in the store-and-forward spool.",
		}),
		linesLost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linewatch_store_lines_lost_total",
			Help: "Lines (samples and points) lost by reason: spool_full (influxdb.spool.max_size_mb, per full_policy), memory_full (influxdb.memory_limit_mb while neither InfluxDB nor the spool disk takes data, per full_policy), spool_corrupt, stopped.",
		}, []string{"reason"}),
		memoryBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "linewatch_store_memory_bytes",
			Help: "Bytes of sealed batches held in memory, neither sent nor spooled (bounded by influxdb.memory_limit_mb).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "linewatch_store_batch_latency_seconds",
			Help:    "Duration of successful InfluxDB write requests.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}),
	}
	for _, k := range []string{errKindNetwork, errKindServer, errKindThrottle, errKindAuth, errKindRejected, errKindPartial, errKindEncode} {
		m.writeErrors.WithLabelValues(k)
	}
	var err error
	if m.unencodable, err = unencodable.Counter(reg); err != nil {
		panic(err) // as MustRegister below
	}
	for _, r := range []string{reasonTimeRange, reasonOther} {
		m.unencodable.WithLabelValues(unencodable.SinkInfluxDB, r)
	}
	if reg != nil {
		reg.MustRegister(m.linesWritten, m.batches, m.writeErrors, m.retries, m.rejectedLines, m.spoolBytes, m.linesLost, m.memoryBytes, m.latency)
	}
	return m
}
