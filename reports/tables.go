package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/internal/display"
)

// section is one table of the human-readable renderings (HTML, PDF).
type section struct {
	Title string
	Note  string
	Cols  []string
	Rows  [][]string
	// Empty is what the section says when it has no rows ("None.").
	Empty string
	// Widths are relative column widths for the PDF.
	Widths []float64
}

func d(dd time.Duration) string {
	if dd == 0 {
		return "0s"
	}
	return dd.Round(time.Second).String()
}

// quantities is the header's line of counts: good and rejected per
// machine with a reject counter pair, else the line's counter totals.
func quantities(r *Report, f *display.Formatter) string {
	var parts []string
	for _, x := range r.Rejects {
		parts = append(parts, fmt.Sprintf("%s: %s good, %s rejected", x.Machine, display.Number(float64(x.Good), 0, ""), display.Number(float64(x.Rejects), 0, "")))
	}
	if len(parts) == 0 {
		for _, t := range r.Tags {
			if t.Counter && t.Total.Defined() {
				unit := t.Unit
				if unit == "count" {
					unit = "" // "844", not "844 count"
				}
				parts = append(parts, fmt.Sprintf("%s: %s", t.Key(), display.Number(float64(t.Total), 0, unit)))
			}
		}
	}
	if len(parts) == 0 {
		return "no counter tags (roles good_count, reject_count) on this line"
	}
	return strings.Join(parts, "; ")
}

// headerRows are the key/value lines of the report header.
func headerRows(r *Report, f *display.Formatter) [][2]string {
	h := r.Header
	line := h.Line
	if h.LineName != "" {
		line += " — " + h.LineName
	}
	product := shown(h.Product)
	if product == "" {
		product = "not recorded (the line has no tag with role product_code)"
	}
	return [][2]string{
		{"Site", h.Site}, {"Line", line}, {"Product", product}, {"Batch", shown(h.Batch)},
		{"Quantities", quantities(r, f)},
		{"Start", f.Time(h.Start)}, {"End", f.Time(h.End)}, {"Duration", d(h.End.Sub(h.Start))},
		{"Generated", f.Time(h.GeneratedAt) + " by " + h.GeneratedBy},
		{"linewatch version", h.Version},
		{"Config", h.ConfigFile + "  SHA-256 " + h.ConfigSHA256},
		{"Samples read", strconv.FormatInt(h.SamplesRead, 10)},
		{"Time zone", f.ZoneLabel(h.Start) + ", 24-hour clock"},
	}
}

func pct(n Num, dec int) string {
	if !n.Defined() {
		return "—"
	}
	return display.Number(100*float64(n), dec, "%")
}

func val(f *display.Formatter, line, machine, tag string, n Num) string {
	if !n.Defined() {
		return "—"
	}
	return f.Value(line, machine, tag, float64(n))
}

// findingNum is a signal's value or limit as what it measures (the tag's
// unit, a duration, a percentage: display.Formatter.FindingValue/Limit).
func findingNum(f *display.Formatter, line string, s Signal, n Num, write func(line, machine, tag, detector, rule string, v float64) string) string {
	if !n.Defined() {
		return "—"
	}
	return write(line, s.Machine, s.Tag, s.Detector, s.Rule, float64(n))
}

// num is a value in the tag's decimals without its unit (table cells
// under a Unit column).
func num(n Num, decimals int) string {
	if !n.Defined() {
		return "—"
	}
	return display.Number(float64(n), decimals, "")
}

func sections(r *Report, f *display.Formatter) []section {
	var out []section
	line := r.Header.Line
	tags := section{Title: "Tag statistics", Note: "Good-quality readings, in each tag's unit and decimals; Cpk (within σ = MR̄/d2) against the specification limits. Sampling is the observed median interval between readings.",
		Cols:   []string{"Machine/tag", "Unit", "Readings", "Min", "Max", "Mean", "Std dev", "LSL", "USL", "Cpk", "Bad", "Sampling"},
		Widths: []float64{2.6, 0.8, 1.1, 1.1, 1.1, 1.1, 1.1, 0.9, 0.9, 0.8, 0.9, 1.3}}
	counters := section{Title: "Counters", Note: "Counter tags (roles good_count, reject_count) as totals over the batch (counter resets handled) and rates; a mean and standard deviation of a running count say nothing.",
		Cols: []string{"Machine/tag", "Unit", "Readings", "Total", "Rate per hour"}, Widths: []float64{3, 1, 1.2, 1.5, 1.5}}
	for _, t := range r.Tags {
		name := t.Key()
		if t.Critical {
			name += " *"
		}
		if t.Counter {
			counters.Rows = append(counters.Rows, []string{name, t.Unit, strconv.FormatInt(t.Count, 10), num(t.Total, 0), num(t.RatePerHour, 1)})
			continue
		}
		dec := t.Decimals
		tags.Rows = append(tags.Rows, []string{name, t.Unit, strconv.FormatInt(t.Count, 10), num(t.Min, dec), num(t.Max, dec), num(t.Mean, dec+1), num(t.StdDev, dec+1),
			num(t.LSL, dec), num(t.USL, dec), num(t.Cpk, 2), pct(t.BadShare, 2), samplingText(t)})
	}
	out = append(out, tags)
	if len(counters.Rows) > 0 {
		out = append(out, counters)
	}

	gaps := section{Title: "Data completeness", Note: fmt.Sprintf("A gap is an interval without readings longer than %d× the tag's observed median sampling interval (rounded up to the 5 %% bucket of the interval histogram); the batch start and end count as readings. Every gap is counted; the longest are in the JSON and CSV renderings.", GapFactor),
		Empty: fmt.Sprintf("No gaps: every tag was read at its usual rate for the whole batch (%d tags).", len(r.Tags)),
		Cols:  []string{"Machine/tag", "Sampling", "Gap over", "Gaps", "Longest", "Longest from", "Total", "Coverage"}, Widths: []float64{3, 1, 1, 0.7, 1, 2.4, 1, 1}}
	for _, t := range r.Tags {
		if t.GapCount == 0 {
			continue
		}
		from := "—"
		for _, g := range t.Gaps {
			if g.Duration == t.GapLongest {
				from = f.Time(g.From)
			}
		}
		gaps.Rows = append(gaps.Rows, []string{t.Key(), samplingText(t), d(t.GapThreshold), strconv.Itoa(t.GapCount), d(t.GapLongest), from, d(t.GapTotal), pct(t.Coverage, 1)})
	}
	out = append(out, gaps)

	out = append(out, excursionSection("Excursions", line, r.Excursions, f))
	out = append(out, coldChainSections(r, f)...)

	sig := section{Title: "SPC and analytics signals", Note: fmt.Sprintf("Findings of the live detectors recomputed over the batch (%d omitted).", r.SignalsLeft),
		Cols: []string{"Start", "End", "Machine/tag", "Detector/rule", "Value", "Limit", "Severity"}, Widths: []float64{2.6, 2.6, 3, 2, 1.2, 1.2, 1}}
	for _, s := range r.Signals {
		sig.Rows = append(sig.Rows, []string{f.Time(s.Time), f.Time(s.End), s.Machine + "/" + s.Tag, s.Detector + "/" + s.Rule,
			findingNum(f, line, s, s.Value, f.FindingValue), findingNum(f, line, s, s.Limit, f.FindingLimit), s.Severity})
	}
	out = append(out, sig)

	rej := section{Title: "Reject fraction and yield", Cols: []string{"Machine", "Good", "Rejects", "Reject rate", "Yield", "Min yield", "Verdict", "p-bar", "Out of control"},
		Widths: []float64{2, 1.3, 1.3, 1.1, 1.1, 1.2, 1, 1, 1.5}, Empty: "No reject counters configured for this line (p_chart or yield rule)."}
	for _, x := range r.Rejects {
		rej.Rows = append(rej.Rows, []string{x.Machine, num(x.Good, 0), num(x.Rejects, 0), pct(x.RejectFraction, 3), num(x.YieldPct, 2) + " %", num(x.YieldMinPct, 2) + " %",
			okText(x.YieldOK), num(x.PBar, 4), fmt.Sprintf("%d of %d subgroups", x.OutOfControl, len(x.Points))})
	}
	out = append(out, rej)

	out = append(out, alarmSection(r, f))

	au := section{Title: "Audit trail of the batch's time range", Cols: []string{"Seq", "Time", "Actor", "Action", "Object", "Reason"}, Widths: []float64{0.7, 2.6, 1.4, 2, 3, 2.4}}
	for _, e := range r.Audit {
		au.Rows = append(au.Rows, []string{strconv.FormatUint(e.Seq, 10), f.Time(e.Time), e.Actor, e.Action, e.Object, e.Reason})
	}
	out = append(out, au)
	return out
}

func samplingText(t TagStats) string {
	if t.Sampling == 0 {
		return "—"
	}
	return d(t.Sampling)
}

func excursionSection(title, line string, xs []Excursion, f *display.Formatter) section {
	exc := section{Title: title, Note: "Periods beyond an alarm limit (detect.Limits), from the first reading beyond the limit to the first reading back; peak is the extreme value; degree-minutes integrate |value − limit|.",
		Empty: "No excursion beyond the alarm limits.",
		Cols:  []string{"Machine/tag", "Limit", "Start", "End", "Duration", "Peak", "Degree-min"}, Widths: []float64{2.6, 1.4, 2.5, 2.5, 1.1, 1.2, 1.5}}
	for _, e := range xs {
		end := f.Time(e.End)
		if e.Open {
			end = "open at the end"
		}
		exc.Rows = append(exc.Rows, []string{e.Machine + "/" + e.Tag, e.Rule + " " + val(f, line, e.Machine, e.Tag, e.Limit), f.Time(e.Start), end, d(e.Duration),
			val(f, line, e.Machine, e.Tag, e.Peak), num(e.DegreeMinutes, 1)})
	}
	return exc
}

func coldChainRows(line string, cs []ColdChain, f *display.Formatter) [][]string {
	var rows [][]string
	for _, c := range cs {
		mk, tor := "—", "—"
		if c.HasMKT {
			mk = okText(c.MKTOK)
			if !c.MKTLimit.Defined() {
				mk = "no limit"
			}
		}
		if c.HasTOR {
			tor = okText(c.TOROK)
		}
		used, budget := "—", "—"
		if c.HasTOR {
			used, budget = d(c.TORUsed), d(c.TORBudget)
		}
		rows = append(rows, []string{c.Machine + "/" + c.Tag, val(f, line, c.Machine, c.Tag, c.MKT), val(f, line, c.Machine, c.Tag, c.MKTLimit), mk, used, budget, tor})
	}
	return rows
}

const mktNote = "MKT per USP <1079> (ΔH/R 10 000 K unless the cold-chain rule sets another), each reading weighted by the time it covers (gaps capped at 15 min); TOR: time out of the rule's range against its budget."

func coldChainSections(r *Report, f *display.Formatter) []section {
	cols := []string{"Machine/tag", "MKT", "MKT limit", "MKT", "TOR used", "TOR budget", "TOR"}
	widths := []float64{3, 1.2, 1.2, 1, 1.5, 1.5, 1}
	var out []section
	main := section{Title: "Cold chain", Note: mktNote, Cols: cols, Widths: widths, Rows: coldChainRows(r.Header.Line, r.ColdChain, f)}
	switch {
	case !r.Header.StorageConfigured:
		main.Note = "No storage location configured for line " + r.Header.Line + " (reports.storage_locations): this report cannot say where the batch was kept or at what temperature. " +
			"This is not the same as \"no excursion\". " + mktNote
		main.Empty = "No cold-chain tag on the line itself."
	default:
		var names []string
		for _, s := range r.Storage {
			names = append(names, s.Location)
		}
		main.Note = "The batch passed through: " + strings.Join(names, ", ") + " (reports.storage_locations; each below). " + mktNote
		main.Empty = "No cold-chain tag on the line itself; see the storage locations below."
	}
	out = append(out, main)
	for _, s := range r.Storage {
		line := storageLine(s.Location)
		name := s.Location
		if s.Name != "" {
			name += " — " + s.Name
		}
		cs := section{Title: "Storage location " + name, Note: fmt.Sprintf("From %s to %s. %d probe(s); %d excursion(s) beyond their alarm limits.", f.Time(s.From), f.Time(s.To), len(s.Tags), len(s.Excursions)),
			Cols: cols, Widths: widths, Rows: coldChainRows(line, s.ColdChain, f), Empty: "No temperature readings in this time."}
		out = append(out, cs)
		if len(s.Excursions) > 0 {
			out = append(out, excursionSection("Excursions in "+s.Location, line, s.Excursions, f))
		}
	}
	return out
}

// alarmSection is one row per alarm: its lifecycle in columns, with the
// suppress/unsuppress transitions (machine-state suppression by design)
// counted rather than listed.
func alarmSection(r *Report, f *display.Formatter) section {
	al := section{Title: "Alarms", Cols: []string{"Alarm", "Priority", "Activated", "Acknowledged", "Cleared", "Other", "State now"},
		Widths: []float64{3, 1, 2.2, 2.8, 2.2, 2.2, 1.3}, Empty: "No alarm during the batch."}
	suppressed := 0
	for _, a := range r.Alarms {
		var act, ack, clr, other []string
		for _, e := range a.Events {
			at := e.ProcessTime
			if at.IsZero() {
				at = e.Time
			}
			switch e.Event {
			case "activate":
				act = append(act, f.Time(at))
			case "ack":
				s := f.Time(e.Time) + " by " + e.By
				if e.Reason != "" {
					s += ": " + e.Reason
				}
				ack = append(ack, s)
			case "clear":
				clr = append(clr, f.Time(at))
			case "suppress", "unsuppress":
				suppressed++
			default:
				s := e.Event + " " + f.Time(e.Time)
				if e.By != "" {
					s += " by " + e.By
				}
				if e.Reason != "" {
					s += ": " + e.Reason
				}
				other = append(other, s)
			}
		}
		name := a.Machine + "/" + a.Tag + " " + a.Detector
		if a.Rule != "" {
			name += "/" + a.Rule
		}
		al.Rows = append(al.Rows, []string{name, a.Priority, dash(strings.Join(act, "\n")), dash(strings.Join(ack, "\n")), dash(strings.Join(clr, "\n")), dash(strings.Join(other, "\n")), a.FinalState()})
	}
	al.Note = fmt.Sprintf("One row per alarm whose condition was measured during the batch (ALARMS stream, up to the time of the report). Activated and cleared: the machine's measurement time; acknowledged and others: the alarm service's time. "+
		"%d suppress/unsuppress transitions (alarms suppressed by design while a machine is stopped) are counted, not listed; every transition is in the JSON and CSV renderings.", suppressed)
	return al
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func okText(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAIL"
}

// signatureRows are the signature block: every required meaning, signed
// or pending (an empty row to sign by hand or electronically), then any
// other signature.
func signatureRows(r *Report, f *display.Formatter) [][]string {
	var out [][]string
	row := func(s ESignature) []string {
		return []string{s.Name + " (" + s.User + ", " + s.Role + ")", s.Meaning, f.Time(s.Time), "electronically signed, bound to report digest " + prefix16(s.ReportDigest) + "…"}
	}
	for _, m := range r.Header.RequiredSignatures {
		found := false
		for _, s := range r.Signatures {
			if s.Meaning == m {
				out = append(out, row(s))
				found = true
			}
		}
		if !found {
			out = append(out, []string{"", m, "", "pending"})
		}
	}
	for _, s := range r.Signatures {
		if !slices.Contains(r.Header.RequiredSignatures, s.Meaning) {
			out = append(out, row(s))
		}
	}
	return out
}
