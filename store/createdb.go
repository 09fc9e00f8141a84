package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// createEvery rate-limits CREATE DATABASE attempts (a refused create is
// retried with the write's backoff, not in a loop).
const createEvery = 10 * time.Second

// dbCreator creates a missing InfluxDB 1.x database when a write says
// "database not found", as Telegraf's influxdb output does unless
// skip_database_creation is set. 2.x buckets are never created.
type dbCreator struct {
	mu      sync.Mutex
	last    time.Time
	lastErr error
}

// dbMissing: InfluxDB 1.x answers a write to a missing database with
// 404 {"error":"database not found: \"name\""}.
func dbMissing(status int, msg []byte) bool {
	return status == http.StatusNotFound && bytes.Contains(msg, []byte("database not found"))
}

// createMissing tries CREATE DATABASE at most once per createEvery; it
// says whether the database now exists, and why not.
func (e *endpoint) createMissing(ctx context.Context) (bool, error) {
	if e.skipCreate || e.bucket != "" {
		return false, nil
	}
	c := &e.creator
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.last.IsZero() && time.Since(c.last) < createEvery {
		return false, c.lastErr
	}
	c.last = time.Now()
	c.lastErr = e.createDatabase(ctx)
	return c.lastErr == nil, c.lastErr
}

// createDatabase runs CREATE DATABASE on the 1.x /query endpoint (it is
// idempotent: an existing database is not an error).
func (e *endpoint) createDatabase(ctx context.Context) error {
	q := fmt.Sprintf("CREATE DATABASE %s", quoteIdent(e.db))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base.JoinPath("/query").String(),
		strings.NewReader(url.Values{"q": {q}}.Encode()))
	if err != nil {
		return fmt.Errorf("create database %q: %w", e.db, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e.auth(req)
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("create database %q at %s: %w", e.db, e.base.Redacted(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 || bytes.Contains(body, []byte(`"error"`)) {
		return fmt.Errorf("create database %q at %s: %s: %s (create it as an InfluxDB admin, or grant the writer's user admin rights)",
			e.db, e.base.Redacted(), resp.Status, serverMessage(body))
	}
	return nil
}

// quoteIdent quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
