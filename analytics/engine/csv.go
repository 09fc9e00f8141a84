package engine

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/sample"
)

// CSV status names accepted besides numeric OPC UA status codes.
var qualityNames = map[string]uint32{"good": 0, "uncertain": 0x40000000, "bad": 0x80000000}

// ReadCSV streams samples from CSV with the columns
// time,line,machine,tag,value[,quality] (RFC 3339 times; a header row is
// recognised and skipped; quality is a numeric OPC UA status code, hex with
// 0x, or good/uncertain/bad). A non-numeric value is kept as text. Every
// error names the line.
func ReadCSV(r io.Reader, site string) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		cr.TrimLeadingSpace = true
		for first := true; ; first = false {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(sample.Sample{}, fmt.Errorf("csv: %w", err)) // ParseError names the line
				return
			}
			line, _ := cr.FieldPos(0)
			if first && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "time") {
				continue
			}
			s, err := parseRecord(rec, site)
			if err != nil {
				if !yield(sample.Sample{}, fmt.Errorf("csv line %d: %w", line, err)) {
					return
				}
				continue
			}
			if !yield(s, nil) {
				return
			}
		}
	}
}

func parseRecord(rec []string, site string) (sample.Sample, error) {
	if len(rec) < 5 || len(rec) > 6 {
		return sample.Sample{}, fmt.Errorf("%d columns, want time,line,machine,tag,value[,quality]", len(rec))
	}
	t, err := time.Parse(time.RFC3339Nano, rec[0])
	if err != nil {
		return sample.Sample{}, fmt.Errorf("time %q is not RFC 3339 (e.g. 2026-11-23T08:00:00Z)", rec[0])
	}
	s := sample.Sample{Time: t.UTC(), Site: site, Line: rec[1], Machine: rec[2], Tag: rec[3]}
	if s.Line == "" || s.Machine == "" || s.Tag == "" {
		return sample.Sample{}, errors.New("line, machine and tag must not be empty")
	}
	if v, err := strconv.ParseFloat(rec[4], 64); err == nil {
		s.Value = v
	} else if b, err := strconv.ParseBool(rec[4]); err == nil {
		if b {
			s.Value = 1
		}
	} else {
		s.Text = rec[4]
	}
	if len(rec) == 6 && rec[5] != "" {
		q := strings.ToLower(strings.TrimSpace(rec[5]))
		if code, ok := qualityNames[q]; ok {
			s.Status = code
		} else if code, err := strconv.ParseUint(q, 0, 32); err == nil {
			s.Status = uint32(code)
		} else {
			return sample.Sample{}, fmt.Errorf("quality %q: want an OPC UA status code (e.g. 0, 0x80000000) or good/uncertain/bad", rec[5])
		}
	}
	return s, nil
}
