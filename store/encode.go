package store

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/linewatch/linewatch/collector/sample"
)

// lineBuilder appends lines to buf. Telemetry series keys repeat every
// poll, so the key ("telemetry,batch=…,unit=…"), validated and escaped
// once by lineprotocol.Encoder, is cached and only the fields and the
// timestamp are formatted per sample; this makes encoding ~5× cheaper
// than running the strict Encoder on every line.
type lineBuilder struct {
	buf     []byte
	scratch lineprotocol.Encoder
	keys    map[seriesKey][]byte
}

type seriesKey struct{ site, line, machine, tag, unit, batch string }

// maxCachedKeys bounds the cache; a plant has far fewer live series, and
// batch changes make old keys useless, so the cache is simply reset.
const maxCachedKeys = 200_000

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func (lb *lineBuilder) sample(s *sample.Sample, now time.Time) error {
	if s.Text != "" {
		return lb.viaEncoder(func(e *lineprotocol.Encoder) error { return appendSample(e, s, now) })
	}
	k := seriesKey{s.Site, s.Line, s.Machine, s.Tag, s.Unit, s.Batch}
	prefix, ok := lb.keys[k]
	if !ok {
		var err error
		if prefix, err = lb.seriesPrefix(s); err != nil {
			return err
		}
		if lb.keys == nil || len(lb.keys) >= maxCachedKeys {
			lb.keys = make(map[seriesKey][]byte)
		}
		lb.keys[k] = prefix
	}
	t := s.Time
	if t.IsZero() {
		t = now
	}
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("timestamp %s: %w", t.Format(time.RFC3339), lineprotocol.ErrValueOutOfRange)
	}
	b := append(lb.buf, prefix...)
	b = append(b, " quality="...)
	b = strconv.AppendInt(b, int64(s.Status), 10)
	b = append(b, 'i')
	if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
		b = append(b, ",value="...)
		b = strconv.AppendFloat(b, s.Value, 'g', -1, 64) // as lineprotocol.Value.AppendBytes
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	lb.buf = append(b, '\n')
	return nil
}

// seriesPrefix encodes the measurement and tags of s with the strict Encoder.
func (lb *lineBuilder) seriesPrefix(s *sample.Sample) ([]byte, error) {
	e := &lb.scratch
	e.SetBuffer(nil)
	probe := *s
	probe.Text, probe.Value, probe.Status, probe.Time = "", 0, 0, time.Unix(0, 0)
	if err := appendSample(e, &probe, time.Unix(0, 0)); err != nil {
		return nil, err
	}
	line := e.Bytes()
	const tail = " quality=0i,value=0 0\n"
	if len(line) < len(tail) || string(line[len(line)-len(tail):]) != tail {
		return nil, fmt.Errorf("series key of %s: unexpected encoding %q", s.Key(), line)
	}
	return append([]byte(nil), line[:len(line)-len(tail)]...), nil
}

func (lb *lineBuilder) point(p *Point, now time.Time) error {
	return lb.viaEncoder(func(e *lineprotocol.Encoder) error { return appendPoint(e, p, now) })
}

// viaEncoder runs the strict Encoder directly on buf.
func (lb *lineBuilder) viaEncoder(f func(*lineprotocol.Encoder) error) error {
	e := &lb.scratch
	e.SetBuffer(lb.buf)
	err := f(e)
	lb.buf = e.Bytes()
	e.SetBuffer(nil)
	return err
}
