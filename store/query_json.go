package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

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
