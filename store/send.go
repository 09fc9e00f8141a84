package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

type outcome int

const (
	outOK     outcome = iota
	outRetry          // keep the batch and send it again later
	outReject         // InfluxDB refused it for good: drop it, count it
)

type result struct {
	b          *batch
	out        outcome
	kind       string // metrics error kind when out != outOK
	status     int
	retryAfter time.Duration
	err        error
	latency    time.Duration
}

// gzWriters keeps a few gzip writers (each holds ~1 MB of tables and
// history) across GCs; a sync.Pool lost them at every GC cycle.
var gzWriters = make(chan *gzip.Writer, freeListLen)

// compress gzips b.body in place (once; a spooled batch stays compressed).
func compress(b *batch) {
	var out bytes.Buffer
	out.Grow(len(b.body)/6 + 64)
	var zw *gzip.Writer
	select {
	case zw = <-gzWriters:
		zw.Reset(&out)
	default:
		zw, _ = gzip.NewWriterLevel(&out, gzip.BestSpeed)
	}
	zw.Write(b.body)
	zw.Close()
	zw.Reset(nil) // do not keep out alive through the free list
	select {
	case gzWriters <- zw:
	default:
	}
	putBuf(b.body)
	b.body, b.gz = out.Bytes(), true
}

func (e *endpoint) send(ctx context.Context, b *batch, timeout time.Duration, now func() time.Time) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.writeURL, bytes.NewReader(b.body))
	if err != nil {
		return result{b: b, out: outReject, kind: errKindRejected, err: err}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if b.gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	e.auth(req)
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return result{b: b, out: outRetry, kind: errKindNetwork, err: fmt.Errorf("write to %s: %w", e.base.Redacted(), err)}
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	resp.Body.Close()
	r := result{b: b, status: resp.StatusCode, latency: time.Since(start)}
	if resp.StatusCode/100 == 2 {
		r.out = outOK
		return r
	}
	why := serverMessage(msg)
	if dbMissing(resp.StatusCode, msg) {
		created, cerr := e.createMissing(ctx)
		if created {
			return e.send(ctx, b, timeout, now) // once: createMissing is rate limited
		}
		if cerr != nil {
			why += "; " + cerr.Error()
		}
	}
	r.err = fmt.Errorf("write to %s: %s: %s", e.base.Redacted(), resp.Status, why)
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		r.out, r.kind = outRetry, errKindThrottle
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), now())
	case code >= 500:
		r.out, r.kind = outRetry, errKindServer
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), now())
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound:
		// A wrong token or a missing database is a configuration error that
		// an operator fixes: keep the data until then.
		r.out, r.kind = outRetry, errKindAuth
	case code == http.StatusBadRequest && bytes.Contains(msg, []byte("partial write")):
		r.out, r.kind = outReject, errKindPartial
	default:
		r.out, r.kind = outReject, errKindRejected
	}
	return r
}

// serverMessage extracts {"error":"…"} or returns the trimmed body.
func serverMessage(body []byte) string {
	s := strings.TrimSpace(string(body))
	if i := strings.Index(s, `"error":"`); i >= 0 {
		if v, err := strconv.Unquote(`"` + strings.TrimSuffix(strings.TrimSuffix(s[i+9:], "}"), `"`) + `"`); err == nil {
			return v
		}
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// retryAfter parses seconds or an HTTP date; it is capped so a bad header
// cannot park the writer for hours.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), 10*time.Minute)
}

var (
	droppedRE  = regexp.MustCompile(`dropped=(\d+)`)
	unparsedRE = regexp.MustCompile(`unable to parse '([^']*)'`)
	conflictRE = regexp.MustCompile(`input field \\?"([^"\\]+)\\?" on measurement \\?"([^"\\]+)\\?"`)
)

// droppedLines is the number of lines InfluxDB says it refused; the whole
// batch when it does not say.
func droppedLines(msg string, lines int) int {
	if m := droppedRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n <= lines {
			return n
		}
	}
	return lines
}

// firstBadLine finds the line InfluxDB complained about, for the log.
func firstBadLine(b *batch, msg string) string {
	body := b.body
	if b.gz {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return ""
		}
		body, err = io.ReadAll(io.LimitReader(zr, 256<<20))
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return ""
		}
	}
	if m := unparsedRE.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	first, _, _ := bytes.Cut(body, []byte("\n"))
	if m := conflictRE.FindStringSubmatch(msg); m != nil {
		field, meas := m[1], m[2]
		for line := range bytes.Lines(body) {
			line = bytes.TrimSuffix(line, []byte("\n"))
			if (bytes.HasPrefix(line, []byte(meas+",")) || bytes.HasPrefix(line, []byte(meas+" "))) &&
				(bytes.Contains(line, []byte(" "+field+"=")) || bytes.Contains(line, []byte(","+field+"="))) {
				return string(line)
			}
		}
	}
	return string(first)
}
