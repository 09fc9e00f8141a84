package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/user"

	"github.com/linewatch/linewatch/config"
)

// serverTLS loads the server certificate of the config section named
// field, or returns nil for plain text.
func serverTLS(field string, t config.TLS) (*tls.Config, error) {
	if t.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// embeddedTLS is the embedded NATS server's TLS: its certificate and,
// with ca_file, the CA every client certificate must chain to.
func embeddedTLS(t config.TLS) (*tls.Config, error) {
	tc, err := serverTLS("nats.embedded.tls", t)
	if tc == nil || err != nil || t.CAFile == "" {
		return tc, err
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("nats.embedded.tls.ca_file: %w", err)
	}
	tc.ClientCAs = x509.NewCertPool()
	if !tc.ClientCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("nats.embedded.tls.ca_file %s: no certificate", t.CAFile)
	}
	tc.ClientAuth = tls.RequireAndVerifyClientCert
	return tc, nil
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
