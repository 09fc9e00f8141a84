package engine

import (
	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/sample"
)

// yieldTracker sums a machine's good and reject counter deltas per batch and
// checks the batch yield when the batch changes. Theoretical quantity is
// not known to the line, so yield here is good / (good + rejects).
type yieldTracker struct {
	line, machine      string
	goodTag, rejectTag string
	params             detect.YieldParams

	Batch        string         `json:"batch"`
	Good         detect.Counter `json:"good"`
	Reject       detect.Counter `json:"reject"`
	GoodSum      float64        `json:"good_sum"`
	RejectSum    float64        `json:"reject_sum"`
	GoodTagSaved string         `json:"good_tag"` // set at snapshot: a changed config starts fresh
}

func (y *yieldTracker) restore(saved yieldTracker) {
	y.Batch, y.Good, y.Reject, y.GoodSum, y.RejectSum = saved.Batch, saved.Good, saved.Reject, saved.GoodSum, saved.RejectSum
}

func (y *yieldTracker) update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if s.Batch != y.Batch {
		if y.Batch != "" && y.GoodSum+y.RejectSum > 0 {
			id := s
			id.Batch, id.Tag = y.Batch, y.goodTag
			_, fs, err := detect.Reconcile(detect.BatchCounts{Theoretical: y.GoodSum + y.RejectSum, Good: y.GoodSum, Rejects: y.RejectSum}, y.params, id)
			if err == nil {
				dst = append(dst, fs...)
			}
		}
		y.Batch, y.GoodSum, y.RejectSum = s.Batch, 0, 0
	}
	switch s.Tag {
	case y.goodTag:
		if d, ok := y.Good.Delta(s.Value); ok {
			y.GoodSum += d
		}
	case y.rejectTag:
		if d, ok := y.Reject.Delta(s.Value); ok {
			y.RejectSum += d
		}
	}
	return dst
}
