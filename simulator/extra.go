package simulator

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
)

// Extra synthetic tags for load tests live under synthetic.load, grouped in
// blocks of extraBlock so a Browse response stays small. Their values are
// computed from the clock on read, so 50 000 tags cost no physics time.
const (
	extraPrefix = "synthetic.load.tag"
	extraBlock  = 1000
)

type extraTags struct {
	n    int
	seed int64
}

func extraTagID(i int) string { return fmt.Sprintf("%s%05d", extraPrefix, i) }

func extraBlockID(b int) string { return fmt.Sprintf("synthetic.load.block%02d", b) }

// parseExtra returns the 1-based index of a synthetic tag id, or 0.
func (x *extraTags) parse(id string) int {
	s, ok := strings.CutPrefix(id, extraPrefix)
	if !ok || len(s) != 5 {
		return 0
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 1 || i > x.n {
		return 0
	}
	return i
}

// value is a slow sine per tag plus deterministic per-second jitter.
func (x *extraTags) value(i int, tick, start time.Time) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d", x.seed, i, tick.Unix())
	jitter := float64(h.Sum64()%2001)/1000 - 1 // [-1, 1]
	period := float64(600 + (i*37)%3000)
	phase := float64(i%360) * math.Pi / 180
	return 50 + 10*math.Sin(2*math.Pi*tick.Sub(start).Seconds()/period+phase) + 0.5*jitter
}
