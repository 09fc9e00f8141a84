package bus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/linewatch/linewatch/config"
)

// EmbeddedOptions configures the in-process NATS server.
type EmbeddedOptions struct {
	// Listen is host:port; port 0 (or "") picks a free loopback port.
	Listen string
	// StoreDir is the JetStream store; required (state must survive restarts).
	StoreDir string
	// Credentials are the role nkeys (EnsureCredentials): each role gets
	// its permission set, anonymous clients are refused. Required unless
	// Anonymous is set.
	Credentials *Credentials
	// Anonymous starts the server without authentication: tests and
	// benchmarks that configure their own users (Configure) or need none.
	Anonymous bool
	// TLS, when set, makes every client connection TLS. A listen address
	// other than loopback is refused without it.
	TLS *tls.Config
	// Configure adjusts the server options before start (authentication,
	// TLS, accounts), e.g. in tests of secured connections.
	Configure func(*server.Options)
}

// StartEmbedded starts a NATS server with JetStream in this process and
// waits until it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("embedded NATS: StoreDir required")
	}
	if o.Credentials == nil && !o.Anonymous {
		return nil, errors.New("embedded NATS: credentials required (bus.EnsureCredentials); anonymous access is for tests only")
	}
	host, port := "127.0.0.1", -1 // -1: random port
	if o.Listen != "" {
		h, p, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS listen %q: %w", o.Listen, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS listen %q: bad port", o.Listen)
		}
		host = h
		if n != 0 {
			port = n
		}
	}
	if !config.LoopbackHost(host) && (o.TLS == nil || o.Credentials == nil) {
		return nil, fmt.Errorf("embedded NATS listen %q: not a loopback address; serving the network needs TLS (nats.embedded.tls) and the role credentials", o.Listen)
	}
	opts := &server.Options{
		ServerName:             "linewatch-embedded",
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               o.StoreDir,
		NoSigs:                 true,
		NoLog:                  true,
		DisableJetStreamBanner: true,
		MaxPayload:             8 << 20,
	}
	if c := o.Credentials; c != nil {
		for _, r := range Roles {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: c.Public[r], Permissions: Permissions(r)})
		}
		opts.AuthTimeout = 5 // seconds
	}
	if o.TLS != nil {
		opts.TLSConfig = o.TLS
		opts.TLS = true
		opts.TLSVerify = o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		opts.TLSTimeout = 5
	}
	if o.Configure != nil {
		o.Configure(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS: not ready on %s:%d within 10s (port in use?)", host, port)
	}
	return s, nil
}
