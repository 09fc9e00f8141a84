package collector

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// lineBatch tracks the batch running on one line. Machines of the line are
// read concurrently, so it is shared under a mutex.
type lineBatch struct {
	site, line              string
	batchMachine, batchTag  string
	productMachine, prodTag string

	mu           sync.Mutex
	known        bool
	current      string
	product      string // latest product code
	startProduct string // product code when the current batch started
}

func newLineBatch(site string, l *config.Line) *lineBatch {
	b := &lineBatch{site: site, line: l.ID}
	b.batchMachine, b.batchTag, _ = strings.Cut(l.BatchTag, "/")
	for _, m := range l.Machines {
		for _, t := range m.Tags {
			if t.Role == "product_code" && b.prodTag == "" {
				b.productMachine, b.prodTag = m.ID, t.Name
			}
		}
	}
	return b
}

// observe updates the batch from the samples of one machine, stamps every
// sample with the batch in force, and returns the events to emit.
func (b *lineBatch) observe(machine string, ss []sample.Sample) []sample.BatchEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var evs []sample.BatchEvent
	if b.batchTag != "" && (machine == b.batchMachine || machine == b.productMachine) {
		var batchSample *sample.Sample
		for i := range ss {
			s := &ss[i]
			if !s.Good() {
				continue // a bad read of the batch tag must not end the batch
			}
			if machine == b.productMachine && s.Tag == b.prodTag {
				b.product = textOf(s)
			}
			if machine == b.batchMachine && s.Tag == b.batchTag {
				batchSample = s
			}
		}
		if batchSample != nil {
			id := textOf(batchSample)
			t := batchSample.Time
			switch {
			case !b.known:
				b.known = true
				if id != "" {
					evs = append(evs, b.event(id, b.product, sample.BatchStart, t))
					b.startProduct = b.product
				}
			case id != b.current:
				if b.current != "" {
					evs = append(evs, b.event(b.current, b.startProduct, sample.BatchEnd, t))
				}
				if id != "" {
					evs = append(evs, b.event(id, b.product, sample.BatchStart, t))
				}
				b.startProduct = b.product
			}
			b.current = id
		}
	}
	for i := range ss {
		ss[i].Batch = b.current
	}
	return evs
}

func (b *lineBatch) event(batch, product, kind string, t time.Time) sample.BatchEvent {
	return sample.BatchEvent{V: sample.BatchEventVersion, Site: b.site, Line: b.line, Batch: batch, Product: product, Event: kind, Time: t.UTC()}
}

func textOf(s *sample.Sample) string {
	if s.Text != "" {
		return strings.TrimSpace(s.Text)
	}
	if s.Value == 0 {
		return ""
	}
	return strconv.FormatFloat(s.Value, 'f', -1, 64)
}
