package store

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/linewatch/linewatch/config"
)

// endpoint is where and how to talk to InfluxDB, derived from config.InfluxDB.
type endpoint struct {
	base     *url.URL
	db, rp   string // v1 API (and the /query database of a 2.x bucket)
	org      string
	bucket   string // v2 API when set
	auth     func(*http.Request)
	client   *http.Client
	tr       *http.Transport
	writeURL string
	// skipCreate: influxdb.skip_database_creation (see createdb.go).
	skipCreate bool
	creator    dbCreator
}

func newEndpoint(cfg config.InfluxDB, conns int) (*endpoint, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("influxdb.url is empty: start InfluxDB first (linewatch starts its own when url is empty) and pass its URL")
	}
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("influxdb.url %q: expected http:// or https:// URL", cfg.URL)
	}
	e := &endpoint{base: u, org: cfg.Org, bucket: cfg.Bucket, db: cfg.Database, rp: cfg.RetentionPolicy, skipCreate: cfg.SkipDatabaseCreation}
	if e.bucket != "" {
		// A 1.8 bucket is "db/rp"; a 2.x bucket maps to a database of the
		// same name through DBRP for /query.
		e.db, e.rp, _ = strings.Cut(e.bucket, "/")
	}
	if e.db == "" {
		return nil, fmt.Errorf("influxdb: neither database nor bucket is set; set influxdb.database (1.x) or influxdb.bucket (2.x, or db/rp on 1.8)")
	}
	token, err := cfg.Token().Resolve()
	if err != nil {
		return nil, fmt.Errorf("influxdb token: %w", err)
	}
	e.auth = authFunc(token, e.bucket == "")
	tlsCfg, err := tlsConfig(cfg.TLS, u.Scheme == "https")
	if err != nil {
		return nil, err
	}
	e.tr = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		MaxIdleConns:          conns + 2,
		MaxIdleConnsPerHost:   conns + 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	e.client = &http.Client{Transport: e.tr}
	q := url.Values{}
	var path string
	if e.bucket != "" {
		path = "/api/v2/write"
		q.Set("bucket", e.bucket)
		q.Set("org", e.org)
	} else {
		path = "/write"
		q.Set("db", e.db)
		if e.rp != "" {
			q.Set("rp", e.rp)
		}
	}
	q.Set("precision", "ns")
	e.writeURL = u.JoinPath(path).String() + "?" + q.Encode()
	return e, nil
}

// authFunc: 2.x takes "Authorization: Token …" on every endpoint; 1.x
// takes "user:password" as basic auth (1.8 also accepts it as a Token on
// /api/v2/write).
func authFunc(token string, v1 bool) func(*http.Request) {
	if token == "" {
		return func(*http.Request) {}
	}
	if user, pass, ok := strings.Cut(token, ":"); ok && v1 {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}
	h := "Token " + token
	return func(r *http.Request) { r.Header.Set("Authorization", h) }
}

func tlsConfig(t config.TLS, https bool) (*tls.Config, error) {
	if !t.Enabled && !https {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("influxdb.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("influxdb.tls.ca_file %s: no PEM certificate found", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("influxdb.tls cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
