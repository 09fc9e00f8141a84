package collector

import (
	"fmt"
	"math"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/linewatch/linewatch/sample"
)

// fillValue sets s.Time, s.Value/s.Text and s.Status from a DataValue. The
// status code is always kept: a bad value is stored with its code, never dropped.
func fillValue(s *sample.Sample, dv *ua.DataValue, recv time.Time) {
	if dv == nil {
		s.Time, s.Status, s.Value = recv, uint32(ua.StatusBadNoData), math.NaN()
		return
	}
	s.Status = uint32(dv.Status)
	// A timestamp InfluxDB cannot hold (OPC UA DateTime spans 1601–9999 and
	// beyond) is passed over, so InfluxDB and NATS stamp the value alike.
	switch {
	case storable(dv.SourceTimestamp):
		s.Time = dv.SourceTimestamp.UTC()
	case storable(dv.ServerTimestamp):
		s.Time = dv.ServerTimestamp.UTC()
	default:
		s.Time = recv
	}
	if dv.Value == nil {
		s.Value = math.NaN() // no value: not a 0 analytics could take for a reading
		return
	}
	setVariant(s, dv.Value.Value())
}

// storable: set and within InfluxDB's range (int64 nanoseconds since 1970).
func storable(t time.Time) bool {
	return !t.IsZero() && t.Year() > 1677 && t.Year() < 2262
}

func setVariant(s *sample.Sample, v any) {
	switch x := v.(type) {
	case float64:
		s.Value = x
	case float32:
		s.Value = float64(x)
	case int32:
		s.Value = float64(x)
	case uint32:
		s.Value = float64(x)
	case int16:
		s.Value = float64(x)
	case uint16:
		s.Value = float64(x)
	case int64:
		s.Value = float64(x)
	case uint64:
		s.Value = float64(x)
	case int8:
		s.Value = float64(x)
	case uint8:
		s.Value = float64(x)
	case bool:
		if x {
			s.Value = 1
		} else {
			s.Value = 0
		}
	case string:
		s.Text = x
	case time.Time:
		s.Text = x.UTC().Format(time.RFC3339Nano)
	case *ua.LocalizedText:
		if x != nil {
			s.Text = x.Text
		}
	case nil:
		s.Value = math.NaN() // a null Variant
	default:
		s.Text = fmt.Sprint(x)
	}
}
