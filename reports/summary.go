package reports

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

// Verdicts of the exception summary.
const (
	Pass      = "PASS"
	Fail      = "FAIL"
	Attention = "ATTENTION"
	NA        = "N/A"
)

// Verdict is one line of page 1's exception summary: what was checked,
// the verdict and the figure behind it.
type Verdict struct {
	Check, Status, Figure string
}

// storageLine is the formatter's line id of a storage location's tags.
func storageLine(loc string) string { return "storage:" + loc }

// formatter builds the display formatter of a report from what the report
// itself holds (site zone, every tag's unit and decimals): a report
// renders the same wherever it is rendered, without the config.
func formatter(r *Report) *display.Formatter {
	cfg := &config.Config{TimeZone: r.Header.TimeZone}
	add := func(line string, tags []TagStats) {
		l := config.Line{ID: line}
		byMachine := map[string]int{}
		for _, t := range tags {
			i, ok := byMachine[t.Machine]
			if !ok {
				i = len(l.Machines)
				byMachine[t.Machine] = i
				l.Machines = append(l.Machines, config.Machine{ID: t.Machine})
			}
			dec := t.Decimals
			l.Machines[i].Tags = append(l.Machines[i].Tags, config.Tag{Name: t.Tag, Unit: t.Unit, Decimals: &dec})
		}
		cfg.Lines = append(cfg.Lines, l)
	}
	add(r.Header.Line, r.Tags)
	for _, s := range r.Storage {
		add(storageLine(s.Location), s.Tags)
	}
	return display.MustNew(cfg)
}

// verdicts is the exception summary of r.
func verdicts(r *Report, f *display.Formatter) []Verdict {
	line := r.Header.Line
	crit := map[string]bool{}
	for _, t := range r.Tags {
		crit[t.Key()] = t.Critical
	}
	var out []Verdict

	// Excursions beyond alarm limits, of the line and its storage.
	type exc struct {
		Excursion
		where string
		line  string
	}
	var all []exc
	for _, e := range r.Excursions {
		all = append(all, exc{e, "", line})
	}
	for _, s := range r.Storage {
		for _, e := range s.Excursions {
			all = append(all, exc{e, " in " + s.Location, storageLine(s.Location)})
		}
	}
	v := Verdict{Check: "Excursions", Status: Pass, Figure: "none beyond the alarm limits"}
	if len(all) > 0 {
		v.Status = Attention
		tags := map[string]bool{}
		longest := all[0]
		for _, e := range all {
			tags[e.Machine+"/"+e.Tag+e.where] = true
			if crit[e.Machine+"/"+e.Tag] || e.where != "" {
				v.Status = Fail
			}
			if e.Duration > longest.Duration {
				longest = e
			}
		}
		v.Figure = fmt.Sprintf("%d on %d tag(s); longest %s on %s/%s%s (%s %s, peak %s)", len(all), len(tags), d(longest.Duration),
			longest.Machine, longest.Tag, longest.where, longest.Rule, f.Value(longest.line, longest.Machine, longest.Tag, float64(longest.Limit)),
			f.Value(longest.line, longest.Machine, longest.Tag, float64(longest.Peak)))
	}
	out = append(out, v)

	// Yield.
	v = Verdict{Check: "Yield", Status: NA, Figure: "no yield rule for this line"}
	var figs []string
	for _, x := range r.Rejects {
		if !x.YieldPct.Defined() {
			continue
		}
		if v.Status == NA {
			v.Status = Pass
		}
		fig := fmt.Sprintf("%s %s", x.Machine, display.Number(float64(x.YieldPct), 2, "%"))
		if x.YieldMinPct.Defined() {
			fig += " vs minimum " + display.Number(float64(x.YieldMinPct), 2, "%")
		}
		fig += fmt.Sprintf(" (%s good, %s rejected)", display.Number(float64(x.Good), 0, ""), display.Number(float64(x.Rejects), 0, ""))
		if !x.YieldOK {
			v.Status = Fail
		}
		figs = append(figs, fig)
	}
	if len(figs) > 0 {
		v.Figure = strings.Join(figs, "; ")
	}
	out = append(out, v)

	// SPC signals and p-chart subgroups out of control.
	v = Verdict{Check: "SPC signals", Status: Pass, Figure: "none"}
	byDet := map[string]int{}
	for _, s := range r.Signals {
		if s.Detector != "limits" {
			byDet[s.Detector]++
		}
	}
	figs = nil
	for _, k := range sortedKeys(byDet) {
		figs = append(figs, fmt.Sprintf("%d %s", byDet[k], k))
	}
	if r.SignalsLeft > 0 {
		figs = append(figs, fmt.Sprintf("%d more not listed", r.SignalsLeft))
	}
	for _, x := range r.Rejects {
		if x.OutOfControl > 0 {
			figs = append(figs, fmt.Sprintf("p-chart %s: %d of %d subgroups out of control", x.Machine, x.OutOfControl, len(x.Points)))
		}
	}
	if len(figs) > 0 {
		v.Status, v.Figure = Attention, strings.Join(figs, "; ")
	}
	out = append(out, v)

	// Alarms still open at the time of the report.
	v = Verdict{Check: "Alarms", Status: Pass, Figure: "none during the batch"}
	if len(r.Alarms) > 0 {
		states := map[string]int{}
		for _, a := range r.Alarms {
			states[a.FinalState()]++
		}
		unack := states["unacknowledged"] + states["rtn_unack"]
		shelved := states["shelved"] + states["out_of_service"]
		v.Figure = fmt.Sprintf("%d alarm(s); %d unacknowledged, %d shelved or out of service at the time of the report", len(r.Alarms), unack, shelved)
		switch {
		case unack > 0:
			v.Status = Fail
		case shelved > 0:
			v.Status = Attention
		}
	}
	out = append(out, v)

	// Data completeness against each tag's own sampling.
	v = Verdict{Check: "Data completeness", Status: Pass}
	gaps, tagsWithGaps := 0, 0
	var longest TagStats
	var total time.Duration
	lowest, lowestTag := 2.0, ""
	for _, t := range r.Tags {
		if t.GapCount > 0 {
			gaps += t.GapCount
			tagsWithGaps++
			total += t.GapTotal
			if t.GapLongest > longest.GapLongest {
				longest = t
			}
		}
		if t.Coverage.Defined() && float64(t.Coverage) < lowest {
			lowest, lowestTag = float64(t.Coverage), t.Key()
		}
		if t.Critical && (t.Count == 0 || (t.Coverage.Defined() && t.Coverage < 0.95)) {
			v.Status = Fail
		}
	}
	if gaps == 0 {
		v.Figure = fmt.Sprintf("no gaps in %d tag(s) (a gap: no reading for %d× the tag's median sampling interval)", len(r.Tags), GapFactor)
	} else {
		if v.Status == Pass {
			v.Status = Attention
		}
		v.Figure = fmt.Sprintf("%d gap(s) on %d tag(s), longest %s (%s), %s in all; lowest coverage %s (%s)", gaps, tagsWithGaps,
			d(longest.GapLongest), longest.Key(), d(total), display.Number(100*lowest, 1, "%"), lowestTag)
	}
	out = append(out, v)

	// Cold chain: the storage locations of the batch and the line's own
	// cold-chain tags.
	v = Verdict{Check: "Cold chain", Status: Pass}
	type cc struct {
		ColdChain
		line, where string
	}
	var ccs []cc
	for _, c := range r.ColdChain {
		ccs = append(ccs, cc{c, line, ""})
	}
	var locs []string
	for _, s := range r.Storage {
		locs = append(locs, s.Location)
		for _, c := range s.ColdChain {
			ccs = append(ccs, cc{c, storageLine(s.Location), " in " + s.Location})
		}
	}
	figs = nil
	for _, c := range ccs {
		fig := c.Machine + "/" + c.Tag + c.where + ":"
		if c.HasMKT {
			fig += " MKT " + f.Value(c.line, c.Machine, c.Tag, float64(c.MKT))
			if c.MKTLimit.Defined() {
				fig += " (limit " + f.Value(c.line, c.Machine, c.Tag, float64(c.MKTLimit)) + ")"
			}
			if !c.MKTOK {
				v.Status = Fail
			}
		}
		if c.HasTOR {
			fig += fmt.Sprintf(" TOR %s of %s", d(c.TORUsed), d(c.TORBudget))
			if !c.TOROK {
				v.Status = Fail
			}
		}
		figs = append(figs, fig)
	}
	switch {
	case !r.Header.StorageConfigured && len(ccs) == 0:
		v.Status, v.Figure = Attention, "no storage location configured for line "+line+" (reports.storage_locations): where the batch was kept is not known to this report"
	case len(ccs) == 0:
		v.Status, v.Figure = Attention, "storage location(s) "+strings.Join(locs, ", ")+": no temperature readings in the batch's time"
	default:
		if len(locs) > 0 {
			figs = append([]string{"stored in " + strings.Join(locs, ", ")}, figs...)
		}
		v.Figure = strings.Join(figs, "; ")
	}
	out = append(out, v)

	// Signatures: every required meaning signed.
	v = Verdict{Check: "Signatures", Status: Pass}
	var pending, signed []string
	for _, m := range r.Header.RequiredSignatures {
		found := false
		for _, s := range r.Signatures {
			if s.Meaning == m {
				found = true
				signed = append(signed, m+" by "+s.Name)
			}
		}
		if !found {
			pending = append(pending, m)
		}
	}
	for _, s := range r.Signatures {
		if !slices.Contains(r.Header.RequiredSignatures, s.Meaning) {
			signed = append(signed, s.Meaning+" by "+s.Name)
		}
	}
	switch {
	case len(pending) > 0:
		v.Status = Attention
		v.Figure = "pending: " + strings.Join(pending, ", ")
		if len(signed) > 0 {
			v.Figure += "; signed: " + strings.Join(signed, ", ")
		}
	case len(signed) == 0:
		v.Status, v.Figure = NA, "no signature required (reports.signatures.required)"
	default:
		v.Figure = "signed: " + strings.Join(signed, ", ")
	}
	out = append(out, v)
	return out
}

// FinalState is the alarm's state after its last transition in the
// report.
func (a AlarmRecord) FinalState() string {
	if len(a.Events) == 0 {
		return ""
	}
	return a.Events[len(a.Events)-1].To
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
