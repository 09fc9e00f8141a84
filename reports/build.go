package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/buildinfo"
	"github.com/linewatch/linewatch/sample"
)

// AnalyticsNote is printed in every report: how its analytics were computed.
const AnalyticsNote = "Analytics recomputed from InfluxDB with the same detector code as the live engine " +
	"(linewatch analytics/engine and analytics/detect), fed the batch's samples in time order. " +
	"Detectors start fresh at the batch start (baselines estimated from data are learned from this batch). " +
	"Statistics and analytics use good-quality readings only; bad and uncertain readings are counted in the bad-quality share."

// maxSignals bounds the signal list; the rest are counted.
const maxSignals = 2000

// Sources are where a report's data comes from. Alarms and Audit may be
// nil (the report then says none were read).
type Sources struct {
	Samples SampleSource
	Alarms  AlarmSource
	Audit   AuditSource
}

// Options tune Build.
type Options struct {
	// GeneratedBy is the person or service generating the report.
	GeneratedBy string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Progress is called with the fraction of the batch's time range read
	// so far (0…1).
	Progress func(frac float64)
	// ChartBuckets is the number of min/max buckets of a trend (default 400).
	ChartBuckets int
	Logger       *slog.Logger
}

// Build computes the report of batch b from src.
func Build(ctx context.Context, cfg *config.Config, b BatchRecord, src Sources, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ChartBuckets <= 0 {
		o.ChartBuckets = 400
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.GeneratedBy == "" {
		return nil, errors.New("report: the person generating it is required (GeneratedBy)")
	}
	end := b.End
	if end.IsZero() {
		return nil, fmt.Errorf("batch %s on line %s has not ended (no end event): report it once it has ended", b.ID, b.Line)
	}
	cfgSum, err := ConfigDigest(cfg)
	if err != nil {
		return nil, err
	}
	r := &Report{
		V: SchemaVersion,
		Header: Header{
			Site: cfg.Site, Line: b.Line, Product: jsonText(b.Product), Batch: jsonText(b.ID), Start: b.Start.UTC(), End: end.UTC(),
			GeneratedBy: o.GeneratedBy, Version: buildinfo.String(), ConfigFile: cfg.File, ConfigSHA256: cfgSum,
			AnalyticsNote: AnalyticsNote, TimeZone: cfg.TimeZone, RequiredSignatures: append([]string{}, cfg.Reports.Signatures.Required...),
		},
		Tags: []TagStats{}, Excursions: []Excursion{}, ColdChain: []ColdChain{}, Signals: []Signal{},
		Rejects: []RejectStats{}, Alarms: []AlarmRecord{}, Audit: []audit.Entry{}, Charts: []Chart{}, SPCCharts: []SPCChart{}, Storage: []StorageReport{},
	}
	if r.Header.TimeZone == "" {
		r.Header.TimeZone = "UTC"
	}
	if l := cfg.Line(b.Line); l != nil {
		r.Header.LineName = l.Name
	}
	p, err := newPipeline(cfg, b, o)
	if err != nil {
		return nil, err
	}
	if err := p.run(ctx, src.Samples); err != nil {
		return nil, err
	}
	p.fill(r)
	locs := StorageFor(cfg, b.Line)
	r.Header.StorageConfigured = len(locs) > 0
	for _, loc := range locs {
		sr, err := BuildStorage(ctx, cfg, loc, b.Start, end.Add(loc.Hold), src.Samples, nil, Options{Now: o.Now, ChartBuckets: o.ChartBuckets, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		r.Storage = append(r.Storage, *sr)
	}
	if src.Alarms != nil {
		ts, err := src.Alarms.Transitions(ctx, cfg.Site, b.Line, b.Start)
		if err != nil {
			return nil, fmt.Errorf("alarms of batch %s: %w", b.ID, err)
		}
		r.Alarms = alarmRecords(ts, b.Start, end)
	}
	if src.Audit != nil {
		es, err := src.Audit.Range(ctx, b.Start, end.Add(time.Nanosecond))
		if err != nil {
			return nil, fmt.Errorf("audit trail of batch %s: %w", b.ID, err)
		}
		if es != nil {
			r.Audit = es
		}
	}
	r.Header.GeneratedAt = o.Now().UTC()
	return r, nil
}

// jsonText is outside text as the report holds it: itself when UTF-8, else
// percent-encoded (sample.Escape), since the canonical JSON is Unicode and
// would otherwise replace the bytes (and no longer verify).
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return sample.Escape(s)
}
