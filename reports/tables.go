package reports

import (
	"fmt"
	"strconv"
	"time"
)

// section is one table of the human-readable renderings (HTML, PDF).
type section struct {
	Title string
	Note  string
	Cols  []string
	Rows  [][]string
	// Widths are relative column widths for the PDF.
	Widths []float64
}

func d(dd time.Duration) string {
	if dd == 0 {
		return "0s"
	}
	return dd.Round(time.Second).String()
}

// headerRows are the key/value lines of the report header.
func headerRows(r *Report) [][2]string {
	h := r.Header
	line := h.Line
	if h.LineName != "" {
		line += " — " + h.LineName
	}
	return [][2]string{
		{"Site", h.Site}, {"Line", line}, {"Product", shown(h.Product)}, {"Batch", shown(h.Batch)},
		{"Start (UTC)", fmtTime(h.Start)}, {"End (UTC)", fmtTime(h.End)}, {"Duration", d(h.End.Sub(h.Start))},
		{"Generated", fmtTime(h.GeneratedAt) + " by " + h.GeneratedBy},
		{"linewatch version", h.Version},
		{"Config", h.ConfigFile + "  SHA-256 " + h.ConfigSHA256},
		{"Samples read", strconv.FormatInt(h.SamplesRead, 10)},
	}
}

func sections(r *Report) []section {
	var out []section
	tags := section{Title: "Tag statistics", Note: "Good-quality readings; Cpk (within σ = MR̄/d2) against the specification limits; gaps are periods without readings longer than three poll intervals.",
		Cols:   []string{"Machine/tag", "Unit", "Count", "Min", "Max", "Mean", "Std dev", "LSL", "USL", "Cpk", "Bad %", "Gaps"},
		Widths: []float64{3.0, 0.8, 1.1, 1.1, 1.1, 1.1, 1.1, 0.9, 0.9, 0.9, 0.9, 0.9}}
	for _, t := range r.Tags {
		gaps := strconv.Itoa(len(t.Gaps) + t.GapsOmitted)
		bad := "—"
		if t.BadShare.Defined() {
			bad = strconv.FormatFloat(100*float64(t.BadShare), 'f', 2, 64)
		}
		name := t.Key()
		if t.Critical {
			name += " *"
		}
		tags.Rows = append(tags.Rows, []string{name, t.Unit, strconv.FormatInt(t.Count, 10), fmtG(t.Min), fmtG(t.Max), fmtG(t.Mean), fmtG(t.StdDev), fmtG(t.LSL), fmtG(t.USL), fmtNum(t.Cpk, 2), bad, gaps})
	}
	out = append(out, tags)

	gaps := section{Title: "Data gaps", Cols: []string{"Machine/tag", "From (UTC)", "To (UTC)", "Duration"}, Widths: []float64{3, 3, 3, 1.5}}
	for _, t := range r.Tags {
		for _, gp := range t.Gaps {
			gaps.Rows = append(gaps.Rows, []string{t.Key(), fmtTime(gp.From), fmtTime(gp.To), d(gp.Duration)})
		}
		if t.GapsOmitted > 0 {
			gaps.Rows = append(gaps.Rows, []string{t.Key(), fmt.Sprintf("… %d more gaps", t.GapsOmitted), "", ""})
		}
	}
	out = append(out, gaps)

	exc := section{Title: "Excursions", Note: "Periods beyond an alarm limit (detect.Limits), from the first reading beyond the limit to the first reading back; peak is the extreme value; degree-minutes integrate |value − limit|.",
		Cols: []string{"Machine/tag", "Limit", "Start (UTC)", "End (UTC)", "Duration", "Peak", "Degree-min"}, Widths: []float64{2.8, 1.3, 2.6, 2.6, 1.2, 1, 1.4}}
	for _, e := range r.Excursions {
		end := fmtTime(e.End)
		if e.Open {
			end = "open at batch end"
		}
		exc.Rows = append(exc.Rows, []string{e.Machine + "/" + e.Tag, e.Rule + " " + fmtG(e.Limit), fmtTime(e.Start), end, d(e.Duration), fmtG(e.Peak), fmtNum(e.DegreeMinutes, 2)})
	}
	out = append(out, exc)

	cc := section{Title: "Cold chain: mean kinetic temperature and time out of refrigeration", Note: "MKT per USP <1079> over the batch, each reading weighted by the time it covers (gaps capped at 15 min).",
		Cols: []string{"Machine/tag", "MKT °C", "Limit °C", "MKT", "TOR used", "TOR budget", "TOR"}, Widths: []float64{3, 1.2, 1.2, 1, 1.5, 1.5, 1}}
	for _, c := range r.ColdChain {
		mk, tor := "—", "—"
		if c.HasMKT {
			mk = okText(c.MKTOK)
		}
		if c.HasTOR {
			tor = okText(c.TOROK)
		}
		cc.Rows = append(cc.Rows, []string{c.Machine + "/" + c.Tag, fmtNum(c.MKT, 2), fmtG(c.MKTLimit), mk, d(c.TORUsed), d(c.TORBudget), tor})
	}
	out = append(out, cc)

	sig := section{Title: "SPC and analytics signals", Note: fmt.Sprintf("Findings of the live detectors recomputed over the batch (%d omitted).", r.SignalsLeft),
		Cols: []string{"Time (UTC)", "End (UTC)", "Machine/tag", "Detector/rule", "Value", "Limit", "Severity"}, Widths: []float64{2.6, 2.6, 3, 2, 1, 1, 1}}
	for _, s := range r.Signals {
		sig.Rows = append(sig.Rows, []string{fmtTime(s.Time), fmtTime(s.End), s.Machine + "/" + s.Tag, s.Detector + "/" + s.Rule, fmtG(s.Value), fmtG(s.Limit), s.Severity})
	}
	out = append(out, sig)

	rej := section{Title: "Reject fraction and yield", Cols: []string{"Machine", "Good", "Rejects", "Reject %", "Yield %", "Min yield %", "Yield", "p-bar", "Out of control"},
		Widths: []float64{2, 1.3, 1.3, 1.1, 1.1, 1.2, 1, 1, 1.3}}
	for _, x := range r.Rejects {
		pct := "—"
		if x.RejectFraction.Defined() {
			pct = strconv.FormatFloat(100*float64(x.RejectFraction), 'f', 3, 64)
		}
		rej.Rows = append(rej.Rows, []string{x.Machine, fmtG(x.Good), fmtG(x.Rejects), pct, fmtNum(x.YieldPct, 2), fmtNum(x.YieldMinPct, 1), okText(x.YieldOK), fmtNum(x.PBar, 4), fmt.Sprintf("%d of %d subgroups", x.OutOfControl, len(x.Points))})
	}
	out = append(out, rej)

	al := section{Title: "Alarms and their lifecycle", Note: "Every transition of each alarm whose condition was measured during the batch, from the ALARMS stream, up to the time of the report. Recorded: the alarm service's clock; Condition: the machine's measurement time of an activation or clear.",
		Cols: []string{"Alarm", "Recorded (UTC)", "Condition (UTC)", "Event", "State", "By", "Reason"}, Widths: []float64{2.9, 2.2, 2.2, 1.1, 1.9, 0.9, 1.5}}
	for _, a := range r.Alarms {
		for i, e := range a.Events {
			name := ""
			if i == 0 {
				name = a.Machine + "/" + a.Tag + " " + a.Detector + "/" + a.Rule + " (" + a.Priority + ")"
			}
			cond := ""
			if !e.ProcessTime.IsZero() {
				cond = fmtTime(e.ProcessTime)
			}
			al.Rows = append(al.Rows, []string{name, fmtTime(e.Time), cond, e.Event, e.From + " → " + e.To, e.By, e.Reason})
		}
	}
	out = append(out, al)

	au := section{Title: "Audit trail of the batch's time range", Cols: []string{"Seq", "Time (UTC)", "Actor", "Action", "Object", "Reason"}, Widths: []float64{0.7, 2.6, 1.4, 2, 3, 2.4}}
	for _, e := range r.Audit {
		au.Rows = append(au.Rows, []string{strconv.FormatUint(e.Seq, 10), fmtTime(e.Time), e.Actor, e.Action, e.Object, e.Reason})
	}
	out = append(out, au)
	return out
}

func okText(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAIL"
}

// signatureLines are the signature block: the electronic signatures, or
// empty lines for handwritten ones.
func signatureLines(r *Report) [][]string {
	var out [][]string
	for _, s := range r.Signatures {
		out = append(out, []string{s.Name + " (" + s.User + ", " + s.Role + ")", s.Meaning, s.Time.UTC().Format("2006-01-02 15:04:05 UTC"), "electronically signed, bound to report digest " + s.ReportDigest[:16] + "…"})
	}
	return out
}
