package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/collector/sample"
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
}

// NewClient connects to the InfluxDB in cfg (token and TLS as for the Writer).
func NewClient(cfg config.InfluxDB, opts ClientOptions) (*Client, error) {
	ep, err := newEndpoint(cfg, 2)
	if err != nil {
		return nil, err
	}
	c := &Client{ep: ep, timeout: cfg.Timeout, chunkSize: opts.ChunkSize}
	setDefault(&c.chunkSize, 10_000)
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.ep.tr.CloseIdleConnections() }

// Database is the database (1.x) or DBRP-mapped bucket (2.x) queried.
func (c *Client) Database() string { return c.ep.db }

// Result is the outcome of an InfluxQL query: every series of every
// statement. Numbers are json.Number so nanosecond times and large
// integers keep their precision.
type Result struct {
	Series []Series
}

// Series is one InfluxQL result series.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
	Partial bool              `json:"partial"`
}

type queryChunk struct {
	Results []struct {
		StatementID int      `json:"statement_id"`
		Series      []Series `json:"series"`
		Error       string   `json:"error"`
		Partial     bool     `json:"partial"`
	} `json:"results"`
	Error string `json:"error"`
}

// QueryInfluxQL runs q against db ("" for statements such as SHOW
// DATABASES) with epoch=ns and returns the whole result; use Samples for
// large ranges.
func (c *Client) QueryInfluxQL(ctx context.Context, db, q string) (Result, error) {
	var res Result
	err := c.stream(ctx, db, q, false, func(s Series) error {
		res.Series = append(res.Series, s)
		return nil
	})
	return res, err
}

// stream runs q and calls fn per series (per chunk when chunked).
func (c *Client) stream(ctx context.Context, db, q string, chunked bool, fn func(Series) error) error {
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
	if !chunked && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ep.base.JoinPath("/query").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	c.ep.auth(req)
	resp, err := c.ep.client.Do(req)
	if err != nil {
		return fmt.Errorf("InfluxQL %q on %s: %w", short(q), c.ep.base.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("InfluxQL %q: %s: %s", short(q), resp.Status, serverMessage(body))
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	for {
		var ch queryChunk
		if err := dec.Decode(&ch); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("InfluxQL %q: decode response: %w", short(q), err)
		}
		if ch.Error != "" {
			return fmt.Errorf("InfluxQL %q: %s", short(q), ch.Error)
		}
		for _, r := range ch.Results {
			if r.Error != "" {
				return fmt.Errorf("InfluxQL %q: statement %d: %s", short(q), r.StatementID, r.Error)
			}
			for _, s := range r.Series {
				if err := fn(s); err != nil {
					return err
				}
			}
		}
	}
}

func short(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}

// SampleQuery selects telemetry. Empty Site, Line or Machine match any;
// empty Tags match every tag. The range is [From, To).
type SampleQuery struct {
	Site, Line, Machine string
	Tags                []string
	Batch               string // optional: only samples of this batch
	From, To            time.Time
}

// InfluxQL is the statement Samples runs: raw points in time order with
// their tags as columns (no GROUP BY, which would order by series).
func (q SampleQuery) InfluxQL() string {
	var b strings.Builder
	b.WriteString(`SELECT "value","quality","text","site","line","machine","tag_name","unit","batch" FROM "telemetry" WHERE `)
	fmt.Fprintf(&b, "time >= %d AND time < %d", q.From.UnixNano(), q.To.UnixNano())
	for _, c := range []struct{ k, v string }{{TagSite, q.Site}, {TagLine, q.Line}, {TagMachine, q.Machine}, {TagBatch, q.Batch}} {
		if c.v != "" {
			fmt.Fprintf(&b, " AND %s = %s", QuoteIdent(c.k), QuoteString(c.v))
		}
	}
	if len(q.Tags) > 0 {
		b.WriteString(" AND (")
		for i, t := range q.Tags {
			if i > 0 {
				b.WriteString(" OR ")
			}
			fmt.Fprintf(&b, "%s = %s", QuoteIdent(TagName), QuoteString(t))
		}
		b.WriteString(")")
	}
	b.WriteString(" ORDER BY time ASC")
	return b.String()
}

// Samples streams the samples of q in time order. Memory is bounded by
// one chunk (ClientOptions.ChunkSize rows) whatever the range. Stop the
// iteration early to cancel the query.
func (c *Client) Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		if !q.From.Before(q.To) {
			yield(sample.Sample{}, fmt.Errorf("sample query: from %s is not before to %s", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano)))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := errors.New("stop")
		err := c.stream(ctx, c.ep.db, q.InfluxQL(), true, func(s Series) error {
			cols, err := sampleColumns(s.Columns)
			if err != nil {
				return err
			}
			for _, row := range s.Values {
				smp, err := cols.decode(row)
				if err != nil {
					return err
				}
				if !yield(smp, nil) {
					return stop
				}
			}
			return nil
		})
		if err != nil && err != stop {
			yield(sample.Sample{}, err)
		}
	}
}

type columnIndex struct{ time, value, quality, text, site, line, machine, tag, unit, batch int }

func sampleColumns(cols []string) (columnIndex, error) {
	ci := columnIndex{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	for i, c := range cols {
		switch c {
		case "time":
			ci.time = i
		case FieldValue:
			ci.value = i
		case FieldQuality:
			ci.quality = i
		case FieldText:
			ci.text = i
		case TagSite:
			ci.site = i
		case TagLine:
			ci.line = i
		case TagMachine:
			ci.machine = i
		case TagName:
			ci.tag = i
		case TagUnit:
			ci.unit = i
		case TagBatch:
			ci.batch = i
		}
	}
	if ci.time < 0 {
		return ci, fmt.Errorf("telemetry query: no time column in %v", cols)
	}
	return ci, nil
}

func (ci columnIndex) decode(row []any) (sample.Sample, error) {
	var s sample.Sample
	n, err := num(row, ci.time)
	if err != nil || n == "" {
		return s, fmt.Errorf("telemetry row %v: no time (was the query sent with epoch=ns?)", row)
	}
	ns, err := n.Int64()
	if err != nil {
		return s, fmt.Errorf("telemetry row %v: time: %w", row, err)
	}
	s.Time = time.Unix(0, ns).UTC()
	if v, err := num(row, ci.value); err == nil && v != "" {
		if s.Value, err = v.Float64(); err != nil {
			return s, fmt.Errorf("telemetry row %v: value: %w", row, err)
		}
	}
	if q, err := num(row, ci.quality); err == nil && q != "" {
		n, err := q.Int64()
		if err != nil || n < 0 || n > 1<<32-1 {
			return s, fmt.Errorf("telemetry row %v: quality %q is not an OPC UA status code", row, q)
		}
		s.Status = uint32(n)
	}
	s.Text = str(row, ci.text)
	s.Site, s.Line, s.Machine = str(row, ci.site), str(row, ci.line), str(row, ci.machine)
	s.Tag, s.Unit, s.Batch = str(row, ci.tag), str(row, ci.unit), str(row, ci.batch)
	return s, nil
}

// num returns the json.Number at i, "" for null or a missing column.
func num(row []any, i int) (json.Number, error) {
	if i < 0 || i >= len(row) || row[i] == nil {
		return "", nil
	}
	n, ok := row[i].(json.Number)
	if !ok {
		return "", fmt.Errorf("column %d is %T, not a number", i, row[i])
	}
	return n, nil
}

func str(row []any, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	s, _ := row[i].(string)
	return s
}

// QuoteString quotes s as an InfluxQL string literal.
func QuoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// QuoteIdent quotes s as an InfluxQL identifier.
func QuoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
