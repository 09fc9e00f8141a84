package pca

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"
)

// maxCSVRows bounds a training file so a mistaken export cannot exhaust memory.
const maxCSVRows = 5_000_000

// WideCSV is a wide table: one row per time, one column per variable.
type WideCSV struct {
	Names []string
	Times []time.Time // UTC
	X     *mat.Dense  // len(Times) × len(Names)
	// Skipped counts rows left out because a value was empty or not finite.
	Skipped int
}

// ReadWideCSV reads a CSV whose header is a time column followed by one
// column per variable, and whose rows hold an RFC 3339 time and the values.
// Rows must be in time order. Rows with an empty or non-finite value are
// skipped and counted (a model needs complete observation vectors).
func ReadWideCSV(r io.Reader) (*WideCSV, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.Comment = '#'
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("pca: read CSV header: %w", err)
	}
	if len(head) < 3 {
		return nil, fmt.Errorf("pca: CSV header has %d columns; want a time column and at least 2 variables", len(head))
	}
	names := make([]string, len(head)-1)
	for i, h := range head[1:] {
		names[i] = strings.TrimSpace(h)
	}
	if err := checkNames(names); err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	out := &WideCSV{Names: names}
	var data []float64
	line := 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("pca: CSV line %d: %w", line, err)
		}
		if len(out.Times) >= maxCSVRows {
			return nil, fmt.Errorf("pca: CSV has more than %d rows; train on a shorter reference period", maxCSVRows)
		}
		ts, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, fmt.Errorf("pca: CSV line %d: time %q is not RFC 3339 (e.g. 2026-01-02T15:04:05Z)", line, rec[0])
		}
		ts = ts.UTC()
		if n := len(out.Times); n > 0 && ts.Before(out.Times[n-1]) {
			return nil, fmt.Errorf("pca: CSV line %d: time %s is before the previous row; sort the file by time", line, rec[0])
		}
		row := make([]float64, len(names))
		ok := true
		for j, cell := range rec[1:] {
			cell = strings.TrimSpace(cell)
			if cell == "" {
				ok = false
				break
			}
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				return nil, fmt.Errorf("pca: CSV line %d column %q: %q is not a number", line, names[j], cell)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				ok = false
				break
			}
			row[j] = v
		}
		if !ok {
			out.Skipped++
			continue
		}
		out.Times = append(out.Times, ts)
		data = append(data, row...)
	}
	if len(out.Times) == 0 {
		return nil, errors.New("pca: CSV has no complete data rows")
	}
	out.X = mat.NewDense(len(out.Times), len(names), data)
	return out, nil
}

// TrainCSV trains a model on a wide CSV (see ReadWideCSV). When opts.From
// and opts.To are zero they are set from the first and last row.
func TrainCSV(r io.Reader, opts Options) (*Model, error) {
	w, err := ReadWideCSV(r)
	if err != nil {
		return nil, err
	}
	if opts.From.IsZero() && opts.To.IsZero() {
		opts.From, opts.To = w.Times[0], w.Times[len(w.Times)-1]
	}
	return Train(w.X, w.Names, opts)
}
