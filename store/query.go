package store

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
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

// QueryEach runs q against db chunked (ClientOptions.ChunkSize rows per
// chunk) and calls fn for every series of every chunk, so a large result
// is never held whole; one series may arrive in several calls. No
// timeout applies (the result may be long): bound it with ctx. fn's error
// stops the query and is returned.
func (c *Client) QueryEach(ctx context.Context, db, q string, fn func(Series) error) error {
	return c.stream(ctx, db, q, true, fn)
}

// stream runs q and calls fn per series (per chunk when chunked).
func (c *Client) stream(ctx context.Context, db, q string, chunked bool, fn func(Series) error) error {
	if !chunked && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.post(ctx, db, q, chunked, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
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
	b.WriteString(`SELECT "value","quality","text","text_pct","nonfinite","site","line","machine","tag_name","unit","batch","batch_raw","batch_raw_pct" FROM "telemetry" WHERE `)
	q.writeWhere(&b, q.From, q.To)
	b.WriteString(" ORDER BY time ASC")
	return b.String()
}

// writeWhere writes the conditions of q for the time range [from, to).
func (q SampleQuery) writeWhere(b *strings.Builder, from, to time.Time) {
	fmt.Fprintf(b, "time >= %d AND time < %d", from.UnixNano(), to.UnixNano())
	batch := q.Batch
	if batch != "" {
		batch = BatchTag(batch)
	}
	for _, c := range []struct{ k, v string }{{TagSite, q.Site}, {TagLine, q.Line}, {TagMachine, q.Machine}, {TagBatch, batch}} {
		if c.v != "" {
			fmt.Fprintf(b, " AND %s = %s", QuoteIdent(c.k), QuoteString(c.v))
		}
	}
	if len(q.Tags) > 0 {
		b.WriteString(" AND (")
		for i, t := range q.Tags {
			if i > 0 {
				b.WriteString(" OR ")
			}
			fmt.Fprintf(b, "%s = %s", QuoteIdent(TagName), QuoteString(t))
		}
		b.WriteString(")")
	}
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

// WindowOptions tune SamplesWindowed.
type WindowOptions struct {
	// Window is the time span read per query (default 10 min).
	Window time.Duration
	// Ahead is the number of windows queried concurrently ahead of the
	// consumer (default 2: InfluxDB answers one query on one core).
	Ahead int
}

// SamplesWindowed streams the samples of q in time order, like Samples,
// but for long ranges of many tags: [From, To) is read in windows, each
// grouped by series (about half the server time of selecting the tags as
// columns) and decoded from CSV (no allocation per value but the text of
// string tags), then merged into time order in memory. Memory is bounded
// by Ahead+1 windows, not by the range. Equal timestamps keep series
// order.
//
// Samples carry Site, Line, Machine and Tag; Batch is q.Batch; Unit is
// not read (use Samples when it is needed).
func (c *Client) SamplesWindowed(ctx context.Context, q SampleQuery, o WindowOptions) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		if !q.From.Before(q.To) {
			yield(sample.Sample{}, fmt.Errorf("sample query: from %s is not before to %s", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano)))
			return
		}
		win, ahead := o.Window, o.Ahead
		if win <= 0 {
			win = 10 * time.Minute
		}
		if ahead <= 0 {
			ahead = 2
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var sizeHint atomic.Int64 // samples in the last window: preallocate the next
		type result struct {
			samples []sample.Sample
			err     error
		}
		// futures carries, in window order, the channel each window's
		// result arrives on; its capacity bounds the windows in flight.
		futures := make(chan chan result, ahead)
		go func() {
			defer close(futures)
			for from := q.From; from.Before(q.To); from = from.Add(win) {
				to := from.Add(win)
				if to.After(q.To) {
					to = q.To
				}
				ch := make(chan result, 1)
				select {
				case futures <- ch:
				case <-ctx.Done():
					return
				}
				go func() {
					ss, err := c.sampleWindow(ctx, q, from, to, int(sizeHint.Load()))
					sizeHint.Store(int64(len(ss)))
					ch <- result{ss, err}
				}()
			}
		}()
		defer func() {
			cancel()
			for ch := range futures { // let every started query finish
				<-ch
			}
		}()
		for ch := range futures {
			res := <-ch
			if res.err != nil {
				yield(sample.Sample{}, res.err)
				return
			}
			for _, s := range res.samples {
				if !yield(s, nil) {
					return
				}
			}
		}
	}
}

// sampleWindow reads [from, to) of q in time order.
func (c *Client) sampleWindow(ctx context.Context, q SampleQuery, from, to time.Time, hint int) ([]sample.Sample, error) {
	var b strings.Builder
	b.WriteString(`SELECT "value","quality","text","text_pct","nonfinite" FROM "telemetry" WHERE `)
	q.writeWhere(&b, from, to)
	// Group only by the tags the query leaves open: fewer series for
	// InfluxDB and a shorter tags column per row.
	group := []string{QuoteIdent(TagMachine), QuoteIdent(TagName)}
	if q.Line == "" {
		group = append(group, QuoteIdent(TagLine))
	}
	if q.Site == "" {
		group = append(group, QuoteIdent(TagSite))
	}
	b.WriteString(" GROUP BY " + strings.Join(group, ","))
	stmt := b.String()

	type series struct{ site, line, machine, tag string }
	seriesOf := map[string]series{}
	out := make([]sample.Sample, 0, hint+hint/8)
	var ix columnIndex
	err := c.streamCSV(ctx, c.ep.db, stmt, func(cols []string) error {
		var err error
		if ix, err = sampleColumns(cols); err != nil || ix.tags < 0 {
			return fmt.Errorf("InfluxQL %q: CSV header %v has no time or tags column", short(stmt), cols)
		}
		return nil
	}, func(rec []string) error {
		tags := at(rec, ix.tags)
		sr, ok := seriesOf[tags]
		if !ok {
			kv, err := parseTagsColumn(tags)
			if err != nil {
				return fmt.Errorf("InfluxQL %q: %w", short(stmt), err)
			}
			sr = series{cmp.Or(q.Site, kv[TagSite]), cmp.Or(q.Line, kv[TagLine]), kv[TagMachine], kv[TagName]}
			seriesOf[strings.Clone(tags)] = sr
		}
		ns, err := strconv.ParseInt(at(rec, ix.time), 10, 64)
		if err != nil {
			return fmt.Errorf("telemetry row of %s/%s/%s/%s: time %q: %w", sr.site, sr.line, sr.machine, sr.tag, at(rec, ix.time), err)
		}
		s := sample.Sample{Time: time.Unix(0, ns).UTC(), Site: sr.site, Line: sr.line, Machine: sr.machine, Tag: sr.tag, Batch: q.Batch}
		if v := at(rec, ix.value); v != "" {
			if s.Value, err = strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("telemetry row %s: value %q: %w", s.Key(), v, err)
			}
		}
		if v := at(rec, ix.quality); v != "" {
			st, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("telemetry row %s: quality %q is not an OPC UA status code: %w", s.Key(), v, err)
			}
			s.Status = uint32(st)
		}
		if t := at(rec, ix.text); t != "" {
			s.Text = strings.Clone(t) // rec is reused
		}
		outsideText(&s, at(rec, ix.value) != "", at(rec, ix.textPct), at(rec, ix.nonFinite))
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Series come one after another; consumers need all tags in time order.
	slices.SortStableFunc(out, func(a, b sample.Sample) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func at(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return rec[i]
}

// streamCSV runs q chunked with a CSV response (Accept: application/csv),
// which decodes without an allocation per value, unlike JSON. header is
// called with the column names of the rows that follow (InfluxDB repeats
// the header when columns change), row with every data row; rec is reused
// between calls. Memory is one CSV record whatever the result size.
//
// InfluxDB's CSV writer reports request errors but drops per-statement
// errors, so use it only for statements known to be valid (SELECT of
// existing measurements); stream (JSON) reports everything.
func (c *Client) streamCSV(ctx context.Context, db, q string, header func(cols []string) error, row func(rec []string) error) error {
	resp, err := c.post(ctx, db, q, true, "application/csv")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	haveHeader := false
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("InfluxQL %q: CSV response: %w", short(q), err)
		}
		switch {
		case len(rec) == 1 && rec[0] == "error":
			msg, _ := r.Read()
			return fmt.Errorf("InfluxQL %q: %s", short(q), strings.Join(msg, " "))
		case len(rec) >= 2 && rec[0] == "name" && rec[1] == "tags":
			if err := header(rec); err != nil {
				return err
			}
			haveHeader = true
		case !haveHeader:
			return fmt.Errorf("InfluxQL %q: CSV row before its header: %q", short(q), rec)
		default:
			if err := row(rec); err != nil {
				return err
			}
		}
	}
}

// parseTagsColumn parses the tags column of InfluxDB's CSV response:
// "k=v,k2=v2" with ',', '=' and ' ' escaped by a backslash (the series
// hash key without the measurement).
func parseTagsColumn(s string) (map[string]string, error) {
	kv := map[string]string{}
	if s == "" {
		return kv, nil
	}
	var key, cur strings.Builder
	inValue := false
	flush := func() error {
		if !inValue {
			return fmt.Errorf("tags column %q: pair %q has no '='", s, key.String())
		}
		kv[key.String()] = cur.String()
		key.Reset()
		cur.Reset()
		inValue = false
		return nil
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		dst := &key
		if inValue {
			dst = &cur
		}
		switch {
		case ch == '\\' && i+1 < len(s) && (s[i+1] == ',' || s[i+1] == '=' || s[i+1] == ' '):
			i++
			dst.WriteByte(s[i])
		case ch == '=' && !inValue:
			inValue = true
		case ch == ',':
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			dst.WriteByte(ch)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return kv, nil
}

// columnIndex is where each telemetry column is in a result; tags is the
// CSV format's column of a GROUP BY series' tags (key=value,…).
type columnIndex struct {
	time, value, quality, text, site, line, machine, tag, unit, batch, tags int
	textPct, nonFinite, batchRaw, batchRawPct                               int
}

func sampleColumns(cols []string) (columnIndex, error) {
	ci := columnIndex{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	for i, c := range cols {
		switch c {
		case "tags":
			ci.tags = i
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
		case FieldText + PctSuffix:
			ci.textPct = i
		case FieldNonFinite:
			ci.nonFinite = i
		case FieldBatchRaw:
			ci.batchRaw = i
		case FieldBatchRaw + PctSuffix:
			ci.batchRawPct = i
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
	s.Tag, s.Unit = str(row, ci.tag), str(row, ci.unit)
	s.Batch = batchID(str(row, ci.batch), str(row, ci.batchRaw), str(row, ci.batchRawPct))
	hasValue := ci.value >= 0 && ci.value < len(row) && row[ci.value] != nil
	outsideText(&s, hasValue, str(row, ci.textPct), str(row, ci.nonFinite))
	return s, nil
}

// outsideText completes a decoded telemetry row (docs/storage.md, "Outside
// text"): a percent-encoded text, and NaN/±Inf for a row without value
// and text (rows written before field nonfinite existed read as NaN).
func outsideText(s *sample.Sample, hasValue bool, textPct, nonFinite string) {
	if textPct != "" {
		s.Text = TextField("", textPct)
	}
	if !hasValue && s.Text == "" {
		s.Value = ParseNonFinite(nonFinite)
	}
}

// TextField is the value of a string field written by the store: the
// field itself, or its key+PctSuffix twin decoded (a value that was not
// UTF-8 or held NUL). A twin that does not decode is returned as stored.
func TextField(plain, pct string) string {
	if pct == "" {
		return plain
	}
	if s, err := sample.Unescape(pct); err == nil {
		return s
	}
	return pct
}

// batchID is the batch id of a telemetry row: batch_raw when the tag is not
// the id itself, else the tag decoded.
func batchID(tag, raw, rawPct string) string {
	if raw != "" || rawPct != "" {
		return TextField(raw, rawPct)
	}
	if id, err := sample.Unescape(tag); err == nil {
		return id
	}
	return tag
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
