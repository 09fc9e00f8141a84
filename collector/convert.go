package collector

import (
	"fmt"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/linewatch/linewatch/collector/sample"
)

// fillValue sets s.Time, s.Value/s.Text and s.Status from a DataValue. The
// status code is always kept: a bad value is stored with its code, never dropped.
func fillValue(s *sample.Sample, dv *ua.DataValue, recv time.Time) {
	if dv == nil {
		s.Time, s.Status = recv, uint32(ua.StatusBadNoData)
		return
	}
	s.Status = uint32(dv.Status)
	switch {
	case !dv.SourceTimestamp.IsZero():
		s.Time = dv.SourceTimestamp.UTC()
	case !dv.ServerTimestamp.IsZero():
		s.Time = dv.ServerTimestamp.UTC()
	default:
		s.Time = recv
	}
	if dv.Value == nil {
		return
	}
	setVariant(s, dv.Value.Value())
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
	default:
		s.Text = fmt.Sprint(x)
	}
}
