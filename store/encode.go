package store

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/linewatch/linewatch/sample"
)

// lineBuilder appends lines to buf. Telemetry series keys repeat every
// poll, so the key ("telemetry,batch=…,unit=…"), validated and escaped
// once by lineprotocol.Encoder, is cached and only the fields and the
// timestamp are formatted per sample; this makes encoding ~5× cheaper
// than running the strict Encoder on every line.
//
// A poll group hands over the same series in the same order every tick, so
// the series of each WriteSamples slice are also kept as a run, found by
// its first series: each sample is compared with the entry at its position
// in the run (the same strings as last tick, usually the same pointers, so
// no bytes are read) before the map is hashed. At 1 000 tags a second the
// map's hashing was ~7 % of the collector's CPU.
type lineBuilder struct {
	buf     []byte
	scratch lineprotocol.Encoder
	keys    map[seriesKey]*series
	runs    map[seriesKey]*[]*series
	run     *[]*series // of the slice being written; nil outside WriteSamples
	pos     int        // index of the next sample in run
}

type seriesKey struct{ site, line, machine, tag, unit, batch string }

type series struct {
	key    seriesKey
	prefix []byte // measurement and tags, escaped
	extra  []byte // fields after value: ",batch_raw=…" when the batch tag is not the id; usually nil
}

func keyOf(s *sample.Sample) seriesKey {
	return seriesKey{s.Site, s.Line, s.Machine, s.Tag, s.Unit, s.Batch}
}

// startRun selects the run of a slice of samples starting with first.
func (lb *lineBuilder) startRun(first *sample.Sample) {
	k := keyOf(first)
	r := lb.runs[k]
	if r == nil {
		if lb.runs == nil || len(lb.runs) >= maxCachedRuns {
			lb.runs = make(map[seriesKey]*[]*series)
		}
		r = new([]*series)
		lb.runs[k] = r
	}
	lb.run, lb.pos = r, 0
}

func (lb *lineBuilder) endRun() { lb.run = nil }

// lookup returns the cached series of s, creating it if needed.
func (lb *lineBuilder) lookup(s *sample.Sample) (*series, error) {
	k := keyOf(s)
	i := lb.pos
	lb.pos++
	if lb.run != nil && i < len(*lb.run) && (*lb.run)[i].key == k {
		return (*lb.run)[i], nil
	}
	ser, ok := lb.keys[k]
	if !ok {
		prefix, extra, err := lb.seriesPrefix(s)
		if err != nil {
			return nil, err
		}
		if lb.keys == nil || len(lb.keys) >= maxCachedKeys {
			lb.keys = make(map[seriesKey]*series)
			lb.runs = nil // they point into the old map's series; rebuilt as needed
		}
		ser = &series{key: k, prefix: prefix, extra: extra}
		lb.keys[k] = ser
	}
	if r := lb.run; r != nil {
		switch {
		case i < len(*r):
			(*r)[i] = ser
		case i == len(*r):
			*r = append(*r, ser)
		}
	}
	return ser, nil
}

// maxCachedKeys bounds the cache; a plant has far fewer live series, and
// batch changes make old keys useless, so the cache is simply reset.
// maxCachedRuns bounds the runs the same way (one per poll group and
// machine, more while a subscription's notifications vary).
const (
	maxCachedKeys = 200_000
	maxCachedRuns = 10_000
)

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func (lb *lineBuilder) sample(s *sample.Sample, now time.Time) error {
	if s.Text != "" {
		lb.pos++
		return lb.viaEncoder(func(e *lineprotocol.Encoder) error { return appendSample(e, s, now) })
	}
	ser, err := lb.lookup(s)
	if err != nil {
		return err
	}
	t := s.Time
	if t.IsZero() {
		t = now
	}
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("timestamp %s: %w", t.Format(time.RFC3339), lineprotocol.ErrValueOutOfRange)
	}
	b := append(lb.buf, ser.prefix...)
	b = append(b, " quality="...)
	b = strconv.AppendInt(b, int64(s.Status), 10)
	b = append(b, 'i')
	if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
		b = append(b, ",value="...)
		b = strconv.AppendFloat(b, s.Value, 'g', -1, 64) // as lineprotocol.Value.AppendBytes
	} else {
		b = append(b, ","+FieldNonFinite+`="`...)
		b = append(b, NonFinite(s.Value)...)
		b = append(b, '"')
	}
	b = append(b, ser.extra...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	lb.buf = append(b, '\n')
	return nil
}

// seriesPrefix encodes the measurement and tags of s with the strict
// Encoder, and the fields every line of the series carries after value.
func (lb *lineBuilder) seriesPrefix(s *sample.Sample) (prefix, extra []byte, err error) {
	e := &lb.scratch
	e.SetBuffer(nil)
	appendSeries(e, s)
	e.AddField(FieldQuality, lineprotocol.IntValue(0))
	e.EndLine(time.Unix(0, 0))
	if err := takeErr(e); err != nil {
		return nil, nil, err
	}
	line := e.Bytes()
	const tail = " quality=0i 0\n"
	if !bytes.HasSuffix(line, []byte(tail)) {
		return nil, nil, fmt.Errorf("series key of %s: unexpected encoding %q", s.Key(), line)
	}
	prefix = append([]byte(nil), line[:len(line)-len(tail)]...)
	if s.Batch == "" || BatchTag(s.Batch) == s.Batch {
		return prefix, nil, nil
	}
	// The batch_raw field, encoded as the strict path does, on a scratch line.
	e.SetBuffer(nil)
	var raw []string
	e.StartLine("x")
	addString(e, FieldBatchRaw, s.Batch, &raw)
	e.EndLine(time.Unix(0, 0))
	if err := takeErr(e); err != nil {
		return nil, nil, err
	}
	patchRaw(e, 0, raw)
	line = e.Bytes()
	extra = append([]byte{','}, line[len("x "):len(line)-len(" 0\n")]...)
	return prefix, extra, nil
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
