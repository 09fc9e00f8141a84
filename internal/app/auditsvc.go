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
// passwords is the alarm service's password checker (nil without a users
// file): signing shares its users file and its attempt limits.
func auditServices(ctx context.Context, cfg *config.Config, js jetstream.JetStream, log *audit.Log, passwords *identity.Passwords, logger *slog.Logger) ([]component, error) {
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
	if passwords == nil {
		logger.Warn("report signing service not started: console.users_file is not set")
		return comps, nil
	}
	reportKey, err := reports.LoadPrivateKey(cfg.Reports.SigningKeyFile)
	if err != nil {
		logger.Warn("report signing service not started: no report signing key", "err", err)
		return comps, nil
	}
	trusted, err := edkey.LoadKeyring(cfg.Audit.TrustedKeys...)
	if err != nil {
		return nil, fmt.Errorf("audit.trusted_keys: %w", err)
	}
	sign, err := reports.NewSignService(reports.SignServiceOptions{Passwords: passwords, Roles: cfg.Reports.Signatures.For,
		ReportKey: reportKey, SealKey: key, Trusted: trusted, Audit: log, Logger: logger.With("component", "report-sign")})
	if err != nil {
		return nil, err
	}
	nc := js.Conn()
	return append(comps, component{"report-sign", func(ctx context.Context) error { return sign.Serve(ctx, nc) }}), nil
}
