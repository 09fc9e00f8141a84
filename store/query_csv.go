package store

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

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
