package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// Connect opens a NATS connection with the config's authentication and TLS.
// url overrides cfg.URL (the embedded server's URL). The connection
// reconnects forever with a delay, so a NATS restart heals by itself.
// While no server answers yet (a cluster starting with the roles, a host
// booting), the first connect is retried with backoff until ctx ends;
// an error a retry cannot mend (authentication, TLS) is returned at once.
func Connect(ctx context.Context, cfg config.NATS, url, name string, log *slog.Logger) (*nats.Conn, error) {
	if url == "" {
		url = cfg.URL
	}
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(64 << 20),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrl()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("NATS error", "subject", subj, "err", err)
		}),
	}
	switch {
	case cfg.User != "":
		pw, err := cfg.Password().Resolve()
		if err != nil {
			return nil, fmt.Errorf("NATS password: %w", err)
		}
		opts = append(opts, nats.UserInfo(cfg.User, pw))
	case cfg.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey %s: %w", cfg.NKeyFile, err)
		}
		opts = append(opts, o)
	case cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.TLS.Enabled || cfg.TLS.CAFile != "" || cfg.TLS.CertFile != "" {
		tc, err := ClientTLS(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("NATS TLS: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	policy := backoff.Policy{Min: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: true}
	for n := 1; ; n++ {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			if err := ctx.Err(); err != nil {
				nc.Close()
				return nil, err
			}
			return nc, nil
		}
		if !unreachable(err) {
			return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
		}
		if n == 1 || n%10 == 0 {
			log.Warn("no NATS server answers yet; retrying", "url", url, "attempt", n, "err", err)
		}
		if werr := policy.Wait(ctx, clock.Real{}, n); werr != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w (gave up: %w)", url, err, werr)
		}
	}
}

// ClientTLS builds a client TLS config from file references.
func ClientTLS(t config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// unreachable: no server answered (refused, timed out, name not
// resolved yet), as opposed to one that answered with a refusal
// (authentication, a TLS handshake it rejected), which waiting does not mend.
func unreachable(err error) bool {
	var netErr net.Error
	var dnsErr *net.DNSError
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout())
}
