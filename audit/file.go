package audit

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// WriteJSONL writes entries as JSON lines, the exportable file form.
func WriteJSONL(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write audit entry %d: %w", e.Seq, err)
		}
	}
	return bw.Flush()
}

// checkpointLine is how a checkpoint is written in an export.
type checkpointLine struct {
	Checkpoint *Checkpoint `json:"checkpoint"`
}

// WriteExport writes entries and then the signed heads that anchor them:
// the export form `audit verify --file` checks.
func WriteExport(w io.Writer, entries []Entry, cps []Checkpoint) error {
	if err := WriteJSONL(w, entries); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, c := range cps {
		if err := enc.Encode(checkpointLine{&c}); err != nil {
			return fmt.Errorf("write audit checkpoint %d: %w", c.Seq, err)
		}
	}
	return nil
}

// MaxLine bounds one JSON line of the file form.
const MaxLine = 1 << 20

// ReadJSONL reads the entries of a JSON-lines audit file (see ReadExport).
func ReadJSONL(r io.Reader) ([]Entry, error) {
	e, _, err := ReadExport(r)
	return e, err
}

// ReadExport reads a JSON-lines audit file strictly: entries, and
// {"checkpoint":…} lines; unknown fields, trailing data and lines that are
// neither are errors naming the line.
func ReadExport(r io.Reader) ([]Entry, []Checkpoint, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	var out []Entry
	var cps []Checkpoint
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var err error
		if bytes.HasPrefix(b, []byte(`{"checkpoint":`)) {
			var c checkpointLine
			if err = dec.Decode(&c); err == nil && c.Checkpoint == nil {
				err = fmt.Errorf("empty checkpoint")
			}
			if err == nil {
				cps = append(cps, *c.Checkpoint)
			}
		} else {
			var e Entry
			if err = dec.Decode(&e); err == nil {
				out = append(out, e)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("audit file line %d: %w", line, err)
		}
		if dec.More() {
			return nil, nil, fmt.Errorf("audit file line %d: more than one JSON value", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("audit file line %d: %w", line+1, err)
	}
	return out, cps, nil
}

// WriteCSV writes entries as CSV with a header row; times RFC 3339.
func WriteCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"seq", "time", "actor", "action", "object", "old", "new", "reason", "prev", "hash"})
	for _, e := range entries {
		cw.Write([]string{strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), csvSafe(e.Actor), csvSafe(e.Action),
			csvSafe(e.Object), csvSafe(e.Old), csvSafe(e.New), csvSafe(e.Reason), e.Prev, e.Hash})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formula injection (=, +, -, @ at the start)
// in free-text fields; the JSON form keeps the exact text.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}
