package app

import (
	"crypto/tls"
	"fmt"
	"os"
	"os/user"

	"github.com/linewatch/linewatch/config"
)

// serverTLS loads a server certificate, or returns nil for plain HTTP.
func serverTLS(t config.TLS) (*tls.Config, error) {
	if t.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("console TLS: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// operatorName is who started the process, for the audit trail.
func operatorName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return "process@" + h
	}
	return "unknown"
}
