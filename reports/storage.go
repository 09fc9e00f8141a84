package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/linewatch/linewatch/config"
)

// StorageReport is the record of one storage location over a time range:
// its probes' statistics, excursions, MKT and time out of refrigeration,
// and (for `linewatch report storage`) the batches stored there.
type StorageReport struct {
	Location   string      `json:"location"`
	Name       string      `json:"name,omitempty"`
	From       time.Time   `json:"from"`
	To         time.Time   `json:"to"`
	Tags       []TagStats  `json:"tags"`
	Excursions []Excursion `json:"excursions"`
	ColdChain  []ColdChain `json:"cold_chain"`
	// Charts are the probes' trends with their limits.
	Charts  []Chart       `json:"charts"`
	Batches []BatchRecord `json:"batches,omitempty"`
}

// StorageFor lists the storage locations that hold batches of line.
func StorageFor(cfg *config.Config, line string) []config.StorageLocation {
	var out []config.StorageLocation
	for _, l := range cfg.Reports.StorageLocations {
		for _, x := range l.Lines {
			if x == line {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// BuildStorage computes the report of storage location loc over
// [from, to] from the samples of its probes: every tag's statistics and
// gaps, excursions beyond the tags' alarm limits, MKT (USP <1079>, ΔH/R of
// the cold-chain rule or 10 000 K) and time out of refrigeration (when a
// tor rule selects the tag). Batches, when given, lists the batches of the
// location's lines stored there in the range.
func BuildStorage(ctx context.Context, cfg *config.Config, loc config.StorageLocation, from, to time.Time, samples SampleSource, batches BatchSource, o Options) (*StorageReport, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("storage report %s: --to %s is not after --from %s", loc.ID, to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ChartBuckets <= 0 {
		o.ChartBuckets = 400
	}
	sr := &StorageReport{Location: loc.ID, Name: loc.Name, From: from.UTC(), To: to.UTC(), Tags: []TagStats{}, Excursions: []Excursion{}, ColdChain: []ColdChain{}, Charts: []Chart{}}
	byLine := map[string]map[tagKey]bool{}
	for _, pat := range loc.Tags {
		for _, t := range cfg.MatchTags(pat) {
			if byLine[t.Line.ID] == nil {
				byLine[t.Line.ID] = map[tagKey]bool{}
			}
			byLine[t.Line.ID][tagKey{t.Machine.ID, t.Tag.Name}] = true
		}
	}
	lines := make([]string, 0, len(byLine))
	for l := range byLine {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	for _, line := range lines {
		p, err := newPipeline(cfg, BatchRecord{ID: "storage:" + loc.ID, Site: cfg.Site, Line: line, Start: from, End: to}, o)
		if err != nil {
			return nil, err
		}
		p.only, p.storage, p.rejects = byLine[line], true, map[string]*rejectAcc{}
		if err := p.run(ctx, samples); err != nil {
			return nil, fmt.Errorf("storage location %s: %w", loc.ID, err)
		}
		var r Report
		p.fill(&r)
		sr.Tags = append(sr.Tags, r.Tags...)
		sr.Excursions = append(sr.Excursions, r.Excursions...)
		sr.ColdChain = append(sr.ColdChain, r.ColdChain...)
		sr.Charts = append(sr.Charts, r.Charts...)
	}
	sort.SliceStable(sr.Excursions, func(i, j int) bool { return sr.Excursions[i].Start.Before(sr.Excursions[j].Start) })
	if batches != nil {
		for _, line := range loc.Lines {
			bs, err := batches.Batches(ctx, cfg.Site, line, time.Time{})
			if err != nil {
				return nil, fmt.Errorf("batches of line %s: %w", line, err)
			}
			for _, b := range bs {
				end := b.End
				if end.IsZero() {
					end = to
				} else {
					end = end.Add(loc.Hold)
				}
				if b.Start.Before(to) && end.After(from) {
					sr.Batches = append(sr.Batches, b)
				}
			}
		}
		sort.SliceStable(sr.Batches, func(i, j int) bool { return sr.Batches[i].Start.Before(sr.Batches[j].Start) })
	}
	return sr, nil
}
