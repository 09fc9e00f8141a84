package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/edkey"
	"github.com/linewatch/linewatch/reports"
)

// auditServices are the alerts role's audit duties: signed checkpoints of
// the chain head (audit key, created on first start) and the report
// signing service, which holds the report key and the audit key so that
// signers hold neither.
func auditServices(ctx context.Context, cfg *config.Config, js jetstream.JetStream, log *audit.Log, logger *slog.Logger) ([]component, error) {
	key, err := edkey.LoadOrGenerate(cfg.Audit.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("audit key (audit.key_file): %w", err)
	}
	cp, err := audit.NewCheckpointer(ctx, js, audit.CheckpointerOptions{Key: key, Interval: cfg.Audit.CheckpointInterval,
		Replicas: cfg.NATS.Replicas, Logger: logger.With("component", "audit")})
	if err != nil {
		return nil, err
	}
	comps := []component{{"audit-checkpoints", cp.Run}}
	if cfg.Console.UsersFile == "" {
		logger.Warn("report signing service not started: console.users_file is not set")
		return comps, nil
	}
	reportKey, err := reports.LoadPrivateKey(cfg.Reports.SigningKeyFile)
	if err != nil {
		logger.Warn("report signing service not started: no report signing key", "err", err)
		return comps, nil
	}
	users, err := identity.NewDirectory(cfg.Console.UsersFile, logger)
	if err != nil {
		return nil, err
	}
	trusted, err := edkey.LoadKeyring(cfg.Audit.TrustedKeys...)
	if err != nil {
		return nil, fmt.Errorf("audit.trusted_keys: %w", err)
	}
	sign, err := reports.NewSignService(reports.SignServiceOptions{Users: users, Roles: cfg.Reports.Signatures.For,
		ReportKey: reportKey, SealKey: key, Trusted: trusted, Audit: log, Logger: logger.With("component", "report-sign")})
	if err != nil {
		return nil, err
	}
	nc := js.Conn()
	return append(comps, component{"report-sign", func(ctx context.Context) error { return sign.Serve(ctx, nc) }}), nil
}
