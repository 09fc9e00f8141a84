package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/linewatch/linewatch/sample"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/reports"
)

func ensureSigningKey(cfg *config.Config) error {
	if _, err := os.Stat(cfg.Reports.SigningKeyFile); err == nil {
		return nil
	}
	_, err := reports.GenerateKey(cfg.Reports.SigningKeyFile)
	return err
}

// batchReports writes a signed PDF report whenever a batch ends.
func batchReports(ctx context.Context, cfg *config.Config, i app.Info, out io.Writer, log *slog.Logger) {
	// The demo's report writer stands in for QA and for the report
	// signing service at once (it reads the streams, subscribes to batch
	// ends and opens the audit stream), so it connects as admin.
	ncfg, err := bus.ForRole(cfg, bus.RoleAdmin)
	if err != nil {
		log.Error("demo reports: NATS", "err", err)
		return
	}
	nc, err := bus.Connect(ctx, ncfg, i.NATSURL, "linewatch-demo-reports", log)
	if err != nil {
		log.Error("demo reports: NATS", "err", err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	events := make(chan sample.BatchEvent, 16)
	sub, err := nc.Subscribe(bus.BatchesAll, func(m *nats.Msg) {
		if ev, err := sample.UnmarshalBatchEvent(m.Data); err == nil && ev.Event == "end" {
			select {
			case events <- ev:
			default:
			}
		}
	})
	if err != nil {
		log.Error("demo reports: subscribe", "err", err)
		return
	}
	defer sub.Unsubscribe()
	key, err := reports.LoadPrivateKey(cfg.Reports.SigningKeyFile)
	if err != nil {
		log.Error("demo reports: signing key", "err", err)
		return
	}
	icfg := cfg.InfluxDB
	icfg.URL = i.InfluxURL
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			// let the last values of the batch reach InfluxDB (flush interval 1 s)
			select {
			case <-ctx.Done():
				return
			case <-time.After(3 * time.Second):
			}
			path, err := writeReport(ctx, cfg, icfg, js, key, ev)
			if err != nil {
				fmt.Fprintf(out, "batch %s ended: report failed: %v\n", ev.Batch, err)
				continue
			}
			fmt.Fprintf(out, "batch %s on %s ended: signed report %s\n", ev.Batch, ev.Line, path)
		}
	}
}

func writeReport(ctx context.Context, cfg *config.Config, icfg config.InfluxDB, js jetstream.JetStream, key []byte, ev sample.BatchEvent) (string, error) {
	src, err := reports.NewInflux(icfg)
	if err != nil {
		return "", err
	}
	b, err := reports.FindBatch(ctx, src, cfg.Site, ev.Line, ev.Batch)
	if err != nil {
		return "", err
	}
	log, err := audit.Open(ctx, js, audit.Options{Replicas: cfg.NATS.Replicas})
	if err != nil {
		return "", err
	}
	r, err := reports.Build(ctx, cfg, b, reports.Sources{Samples: src, Alarms: reports.JetStreamAlarms{JS: js}, Audit: log}, reports.Options{GeneratedBy: "linewatch demo"})
	if err != nil {
		return "", err
	}
	data, err := reports.Render(r, "pdf", key, time.Now())
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cfg.Reports.OutputDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(cfg.Reports.OutputDir, sample.EscapeFileName(ev.Batch)+".pdf") // the batch id is outside text
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", err
	}
	_, err = log.Append(ctx, audit.Entry{Actor: "linewatch demo", Action: "report.generated", Object: ev.Batch, New: path})
	return path, err
}
