package store

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/config"
)

// Client runs InfluxQL through the v1 /query endpoint, which InfluxDB 1.8,
// 2.x (with a DBRP mapping) and 3.x all serve.
type Client struct {
	ep        *endpoint
	timeout   time.Duration
	chunkSize int
}

// ClientOptions tune a Client.
type ClientOptions struct {
	// ChunkSize is the number of rows per chunk of a streamed query (default 10 000).
	ChunkSize int
	// Token, when set, is used instead of the config's token_env/token_file:
	// a token the caller already resolved ("user:password" on 1.x).
	Token string
	// HTTPClient, when set, replaces the client built from the config
	// (whose TLS settings it then does not get).
	HTTPClient *http.Client
}

// NewClient connects to the InfluxDB in cfg (token and TLS as for the Writer).
func NewClient(cfg config.InfluxDB, opts ClientOptions) (*Client, error) {
	ep, err := newEndpoint(cfg, 2)
	if err != nil {
		return nil, err
	}
	if opts.Token != "" {
		ep.auth = authFunc(opts.Token, ep.bucket == "")
	}
	if opts.HTTPClient != nil {
		ep.client = opts.HTTPClient
	}
	c := &Client{ep: ep, timeout: cfg.Timeout, chunkSize: opts.ChunkSize}
	setDefault(&c.chunkSize, 10_000)
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.ep.tr.CloseIdleConnections() }

// Database is the database (1.x) or DBRP-mapped bucket (2.x) queried.
func (c *Client) Database() string { return c.ep.db }

// post sends q to /query and returns the 2xx response; the caller closes its body.
func (c *Client) post(ctx context.Context, db, q string, chunked bool, accept string) (*http.Response, error) {
	form := url.Values{"q": {q}, "epoch": {"ns"}}
	if db != "" {
		form.Set("db", db)
		if c.ep.rp != "" && db == c.ep.db {
			form.Set("rp", c.ep.rp)
		}
	}
	if chunked {
		form.Set("chunked", "true")
		form.Set("chunk_size", strconv.Itoa(c.chunkSize))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ep.base.JoinPath("/query").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("InfluxQL %q: %w", short(q), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", accept)
	c.ep.auth(req)
	resp, err := c.ep.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("InfluxQL %q on %s: %w", short(q), c.ep.base.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("InfluxQL %q: %s: %s", short(q), resp.Status, serverMessage(body))
	}
	return resp, nil
}

func short(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}
