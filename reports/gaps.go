package reports

import (
	"math"
	"sort"
	"time"
)

// maxGapsListed bounds the gap list of one tag (the longest are kept);
// the rest are counted and summed.
const maxGapsListed = 10

// GapFactor: an interval between readings longer than GapFactor times the
// tag's observed median interval is a gap.
const GapFactor = 3

// finish computes the summary at the batch start and end.
func (a *tagAcc) finish(start, end time.Time) TagStats {
	if end.After(a.last) {
		a.spacing.add(a.last, end)
	}
	st := a.stats
	st.Min, st.Max, st.Mean, st.StdDev, st.Cpk, st.Ppk, st.BadShare = nan(), nan(), nan(), nan(), nan(), nan(), nan()
	st.Total, st.RatePerHour, st.Coverage = nan(), nan(), nan()
	if a.used > 0 {
		st.Min, st.Max, st.Mean = Num(a.min), Num(a.max), Num(a.mean)
	}
	if a.used > 1 {
		st.StdDev = Num(math.Sqrt(a.m2 / float64(a.used-1)))
	}
	if st.Counter {
		// A count's mean and spread say nothing; its total and rate do.
		st.Mean, st.StdDev = nan(), nan()
		st.Total = Num(a.total)
		if h := end.Sub(start).Hours(); h > 0 {
			st.RatePerHour = Num(a.total / h)
		}
	}
	if a.cpk != nil {
		c := a.cpk.Current()
		st.Cpk, st.Ppk = Num(c.Cpk), Num(c.Ppk)
	}
	if st.Count > 0 {
		st.BadShare = Num(float64(st.Count-st.Good) / float64(st.Count))
	}
	// Text tags (batch id, product code, machine state) are recorded when
	// they change, not at every poll: their spacing says nothing about
	// completeness.
	if a.used > 0 || st.Count == 0 {
		a.spacing.summarise(&st, start, end)
	} else {
		st.Gaps = []Gap{}
	}
	return st
}

// spacingHist keeps the intervals between readings of one tag in
// logarithmic buckets (5 % wide: bounded memory whatever the batch size)
// with each bucket's exact count and sum, and the longest intervals with
// their times. From it: the median interval (the tag's real sampling, which
// may differ from the configured poll interval, e.g. under simulated
// time), and the gaps — intervals longer than GapFactor × median (rounded
// up to a bucket boundary) — counted, summed and listed exactly.
type spacingHist struct {
	n       [spacingBuckets]int64
	sum     [spacingBuckets]time.Duration
	longest []Gap // up to maxGapsListed, any length
}

const (
	spacingBuckets = 640
	spacingBase    = time.Millisecond
)

var spacingLogRatio = math.Log(1.05)

func spacingBucket(d time.Duration) int {
	if d <= spacingBase {
		return 0
	}
	i := int(math.Log(float64(d)/float64(spacingBase))/spacingLogRatio) + 1
	return min(i, spacingBuckets-1)
}

// spacingLower is the shortest interval of bucket i.
func spacingLower(i int) time.Duration {
	if i == 0 {
		return 0
	}
	return time.Duration(math.Ceil(float64(spacingBase) * math.Exp(float64(i-1)*spacingLogRatio)))
}

func (h *spacingHist) add(from, to time.Time) {
	d := to.Sub(from)
	if d < 0 {
		return
	}
	i := spacingBucket(d)
	h.n[i]++
	h.sum[i] += d
	g := Gap{From: from.UTC(), To: to.UTC(), Duration: d}
	if len(h.longest) < maxGapsListed {
		h.longest = append(h.longest, g)
		return
	}
	k := 0
	for j, x := range h.longest {
		if x.Duration < h.longest[k].Duration {
			k = j
		}
	}
	if d > h.longest[k].Duration {
		h.longest[k] = g
	}
}

func (h *spacingHist) summarise(st *TagStats, start, end time.Time) {
	var total int64
	for _, c := range h.n {
		total += c
	}
	span := end.Sub(start)
	st.Gaps = []Gap{}
	if total < 3 {
		// Too few readings for a sampling interval: a tag without any is
		// one gap over the whole batch.
		if st.Count == 0 && span > 0 {
			st.GapCount, st.GapLongest, st.GapTotal, st.Coverage = 1, span, span, 0
			st.Gaps = []Gap{{From: start.UTC(), To: end.UTC(), Duration: span}}
		}
		return
	}
	var seen int64
	med := 0
	for i, c := range h.n {
		seen += c
		if 2*seen >= total {
			med = i
			break
		}
	}
	st.Sampling = h.sum[med] / time.Duration(h.n[med])
	bt := spacingBucket(GapFactor*st.Sampling) + 1
	if bt >= spacingBuckets {
		return
	}
	st.GapThreshold = spacingLower(bt)
	for i := bt; i < spacingBuckets; i++ {
		st.GapCount += int(h.n[i])
		st.GapTotal += h.sum[i]
	}
	for _, g := range h.longest {
		if spacingBucket(g.Duration) >= bt {
			st.Gaps = append(st.Gaps, g)
			st.GapLongest = max(st.GapLongest, g.Duration)
		}
	}
	sort.Slice(st.Gaps, func(i, j int) bool { return st.Gaps[i].From.Before(st.Gaps[j].From) })
	st.GapsOmitted = st.GapCount - len(st.Gaps)
	if span > 0 {
		st.Coverage = Num(max(0, 1-float64(st.GapTotal)/float64(span)))
	}
}
