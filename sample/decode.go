package sample

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Decoder decodes telemetry messages as Unmarshal does, several times
// faster for the bodies the collector writes: it reads them in one pass
// without reflection, keeps one copy of each tag, unit, site, line,
// machine and batch name it has seen, and reuses its value slice. Any body
// it does not read on that path (escapes in a string, unknown or repeated
// keys, null, a number out of range, a schema it does not know) goes to
// Unmarshal, so results and errors are Unmarshal's for every input
// (FuzzDecoderMatchesUnmarshal). A Decoder is not safe for concurrent
// use; the Values of a decoded Batch are valid until the next Decode.
type Decoder struct {
	names map[string]string
	vals  []Value
	// The values of one read mostly share a time: the last one parsed.
	lastRaw  []byte
	lastTime time.Time
}

// maxNames bounds the names a Decoder keeps: a stream of ever new names
// (a hostile or broken publisher) must not grow it without end.
const maxNames = 1 << 16

// Decode decodes one telemetry message (schema version 1 or 2).
func (d *Decoder) Decode(data []byte) (Batch, error) {
	if b, ok := d.fast(data); ok {
		return b, nil
	}
	return Unmarshal(data)
}

// scan is a cursor over a JSON body for the fast path: every method
// reports false for anything it does not read itself.
type scan struct {
	data []byte
	i    int
}

func (s *scan) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte_ reads c after optional white space.
func (s *scan) byte_(c byte) bool {
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek reports whether the next token starts with c.
func (s *scan) peek(c byte) bool {
	s.ws()
	return s.i < len(s.data) && s.data[s.i] == c
}

// str reads a JSON string without escapes or control characters, of
// valid UTF-8, and returns its bytes (without the quotes).
func (s *scan) str() ([]byte, bool) {
	if !s.byte_('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for ; s.i < len(s.data); s.i++ {
		c := s.data[s.i]
		switch {
		case c == '"':
			b := s.data[start:s.i]
			s.i++
			return b, ascii || utf8.Valid(b)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

// number reads a JSON number (strict grammar) and returns its text.
func (s *scan) number() ([]byte, bool) {
	s.ws()
	d, start := s.data, s.i
	i := s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			return nil, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			return nil, false
		}
	}
	s.i = i
	return d[start:i], true
}

// integer reads a JSON number that is an integer in [lo, hi].
func (s *scan) integer(lo, hi int64) (int64, bool) {
	n, ok := s.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, false
	}
	return v, true
}

func (d *Decoder) name(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	if d.names == nil || len(d.names) >= maxNames {
		d.names = make(map[string]string)
	}
	s := string(b)
	d.names[s] = s
	return s
}

// fast decodes data on the fast path; false sends it to Unmarshal.
func (d *Decoder) fast(data []byte) (Batch, bool) {
	s := scan{data: data}
	var b Batch
	var seen uint8
	d.vals = d.vals[:0]
	if !s.byte_('{') {
		return Batch{}, false
	}
	for first := true; !s.byte_('}'); first = false {
		if !first && !s.byte_(',') {
			return Batch{}, false
		}
		key, ok := s.str()
		if !ok || !s.byte_(':') {
			return Batch{}, false
		}
		var bit uint8
		switch string(key) {
		case "v":
			bit = 1
			v, ok := s.integer(math.MinInt, math.MaxInt)
			if !ok {
				return Batch{}, false
			}
			b.V = int(v)
		case "site", "line", "machine", "batch":
			str, ok := s.str()
			if !ok {
				return Batch{}, false
			}
			switch string(key) {
			case "site":
				bit, b.Site = 2, d.name(str)
			case "line":
				bit, b.Line = 4, d.name(str)
			case "machine":
				bit, b.Machine = 8, d.name(str)
			default:
				bit, b.Batch = 16, d.name(str)
			}
		case "values":
			bit = 32
			if !d.values(&s) {
				return Batch{}, false
			}
		default: // batch_pct, keys in other cases, unknown keys
			return Batch{}, false
		}
		if seen&bit != 0 {
			return Batch{}, false
		}
		seen |= bit
	}
	s.ws()
	if s.i != len(data) || (b.V != 1 && b.V != SchemaVersion) {
		return Batch{}, false
	}
	b.Values = d.vals
	if b.Values == nil {
		b.Values = []Value{}
	}
	return b, true
}

// values reads the "values" array into d.vals.
func (d *Decoder) values(s *scan) bool {
	if !s.byte_('[') {
		return false
	}
	if s.byte_(']') {
		return true
	}
	for {
		var v Value
		if !d.value(s, &v) {
			return false
		}
		d.vals = append(d.vals, v)
		if s.byte_(']') {
			return true
		}
		if !s.byte_(',') {
			return false
		}
	}
}

func (d *Decoder) value(s *scan, v *Value) bool {
	if !s.byte_('{') {
		return false
	}
	var seen uint16
	for first := true; !s.byte_('}'); first = false {
		if !first && !s.byte_(',') {
			return false
		}
		key, ok := s.str()
		if !ok || !s.byte_(':') {
			return false
		}
		var bit uint16
		switch string(key) {
		case "t":
			bit = 1
			if !s.peek('"') {
				return false
			}
			start := s.i
			if _, ok := s.str(); !ok {
				return false
			}
			raw := s.data[start:s.i]
			if !bytes.Equal(raw, d.lastRaw) {
				var t time.Time
				if t.UnmarshalJSON(raw) != nil {
					return false
				}
				d.lastRaw, d.lastTime = append(d.lastRaw[:0], raw...), t
			}
			v.Time = d.lastTime
		case "tag", "unit", "nf":
			str, ok := s.str()
			if !ok {
				return false
			}
			switch string(key) {
			case "tag":
				bit, v.Tag = 2, d.name(str)
			case "unit":
				bit, v.Unit = 4, d.name(str)
			default:
				bit = 8
				switch string(str) {
				case "NaN":
					v.Value = math.NaN()
				case "+Inf":
					v.Value = math.Inf(1)
				case "-Inf":
					v.Value = math.Inf(-1)
				default:
					return false
				}
			}
		case "v":
			bit = 16
			n, ok := s.number()
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(string(n), 64)
			if err != nil {
				return false
			}
			v.Value = f
		case "s":
			bit = 32
			str, ok := s.str()
			if !ok {
				return false
			}
			v.Text = string(str)
		case "q":
			bit = 64
			q, ok := s.integer(0, math.MaxUint32)
			if !ok {
				return false
			}
			v.Status = uint32(q)
		case "cut":
			bit = 128
			c, ok := s.integer(math.MinInt, math.MaxInt)
			if !ok {
				return false
			}
			v.Cut = int(c)
		default: // s_pct, keys in other cases, unknown keys
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	// Unmarshal lets "nf" override "v" whatever their order; so does
	// this path only when they do not come together.
	return seen&(8|16) != 8|16
}
