package reports

import (
	"bytes"
	"compress/zlib"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Formats lists the renderings.
var Formats = []string{"pdf", "csv", "json", "html"}

// Render renders r in format and seals it with key.
func Render(r *Report, format string, key ed25519.PrivateKey, now time.Time) ([]byte, error) {
	out, canon, err := renderUnsealed(r, format)
	if err != nil {
		return nil, err
	}
	if format != "pdf" {
		if err := sealFile(out, format, sha256Hex(canon), "", key, now); err != nil {
			return nil, err
		}
		return out, nil
	}
	ec, err := pdfSigningKey(key)
	if err != nil {
		return nil, err
	}
	cert, err := pdfCertificate(key, ec, now)
	if err != nil {
		return nil, err
	}
	if err := sealFile(out, format, sha256Hex(canon), certFingerprint(cert), key, now); err != nil {
		return nil, err
	}
	return pdfSign(out, key, cert, ec, "linewatch report key "+KeyID(key.Public().(ed25519.PublicKey)), now)
}

// renderUnsealed renders r with a placeholder integrity block; the same
// report renders to the same bytes (the signing service and the signer's
// CLI rely on it).
func renderUnsealed(r *Report, format string) (out, canon []byte, err error) {
	canon, err = r.Canonical()
	if err != nil {
		return nil, nil, err
	}
	switch format {
	case "json":
		out = renderJSON(canon)
	case "csv":
		out, err = renderCSV(r, canon)
	case "html":
		out, err = renderHTML(r, canon)
	case "pdf":
		out, err = renderPDF(r, canon)
	default:
		return nil, nil, fmt.Errorf("report format %q: use one of pdf, csv, json, html", format)
	}
	return out, canon, err
}

// renderJSON: {"report":<canonical>,"integrity":"<block>"}.
func renderJSON(canon []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"report":`)
	b.Write(canon)
	b.WriteString(`,"integrity":"`)
	b.WriteString(placeholder())
	b.WriteString("\"}\n")
	return b.Bytes()
}

// ExtractCanonical returns the canonical report JSON embedded in a
// rendering.
func ExtractCanonical(data []byte, format string) ([]byte, error) {
	switch format {
	case "json":
		var env struct {
			Report    json.RawMessage `json:"report"`
			Integrity string          `json:"integrity"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			return nil, fmt.Errorf("report JSON: %w", err)
		}
		if len(env.Report) == 0 {
			return nil, errors.New("report JSON: no \"report\" object")
		}
		return env.Report, nil
	case "html":
		const open, end = `<script type="application/json" id="linewatch-report">`, `</script>`
		i := bytes.Index(data, []byte(open))
		if i < 0 {
			return nil, errors.New("HTML report: embedded report JSON (script#linewatch-report) not found")
		}
		rest := data[i+len(open):]
		j := bytes.Index(rest, []byte(end))
		if j < 0 {
			return nil, errors.New("HTML report: embedded report JSON is not terminated")
		}
		return rest[:j], nil
	case "csv":
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				return nil, errors.New("CSV report: no \"canonical\" row with the report JSON")
			}
			if err != nil {
				return nil, fmt.Errorf("CSV report: %w", err)
			}
			if len(rec) == 2 && rec[0] == "canonical" {
				b, err := base64.StdEncoding.DecodeString(rec[1])
				if err != nil {
					return nil, fmt.Errorf("CSV report: canonical row: %w", err)
				}
				return b, nil
			}
		}
	case "pdf":
		return pdfAttachment(data)
	}
	return nil, fmt.Errorf("unknown report format %q", format)
}

// pdfAttachment finds the one embedded file fpdf wrote (the canonical
// JSON): "<< /Type /EmbeddedFile /Length N /Filter /FlateDecode …>>
// stream\n<N bytes>".
func pdfAttachment(data []byte) ([]byte, error) {
	const marker = "/Type /EmbeddedFile /Length "
	i := bytes.Index(data, []byte(marker))
	if i < 0 || bytes.Count(data, []byte(marker)) != 1 {
		return nil, errors.New("PDF report: exactly one embedded report.json attachment expected")
	}
	rest := data[i+len(marker):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(string(rest[:j]))
	if err != nil || n <= 0 || n > len(rest) {
		return nil, errors.New("PDF report: attachment length is malformed")
	}
	k := bytes.Index(rest, []byte("stream\n"))
	if k < 0 || k+len("stream\n")+n > len(rest) {
		return nil, errors.New("PDF report: attachment stream is truncated")
	}
	zr, err := zlib.NewReader(bytes.NewReader(rest[k+len("stream\n") : k+len("stream\n")+n]))
	if err != nil {
		return nil, fmt.Errorf("PDF report: attachment: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("PDF report: attachment: %w", err)
	}
	return out, nil
}

func g(n Num) string {
	if !n.Defined() {
		return ""
	}
	return strconv.FormatFloat(float64(n), 'g', -1, 64)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func dur(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'g', -1, 64) }

// csvSafe defuses spreadsheet formula injection in free text.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// renderCSV writes one record type per row (first column), with a column
// header row per type, full-precision numbers and RFC 3339 times; the
// canonical JSON (base64) and the integrity block are the last two rows.
func renderCSV(r *Report, canon []byte) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	h := r.Header
	w.Write([]string{"#header", "site", "line", "line_name", "product", "batch", "start", "end", "generated_at", "generated_by", "linewatch_version", "config_file", "config_sha256", "samples_read", "analytics_note"})
	w.Write([]string{"header", h.Site, h.Line, csvSafe(h.LineName), csvSafe(h.Product), csvSafe(h.Batch), ts(h.Start), ts(h.End), ts(h.GeneratedAt), csvSafe(h.GeneratedBy), h.Version, csvSafe(h.ConfigFile), h.ConfigSHA256, strconv.FormatInt(h.SamplesRead, 10), h.AnalyticsNote})
	w.Write([]string{"#tag", "machine", "tag", "unit", "role", "critical", "count", "good", "min", "max", "mean", "std_dev", "lsl", "usl", "cpk", "ppk", "bad_share", "gaps_listed", "gaps_omitted",
		"decimals", "counter", "total", "rate_per_hour", "sampling_s", "gap_threshold_s", "gap_count", "gap_longest_s", "gap_total_s", "coverage"})
	for _, t := range r.Tags {
		w.Write([]string{"tag", t.Machine, t.Tag, t.Unit, t.Role, strconv.FormatBool(t.Critical), strconv.FormatInt(t.Count, 10), strconv.FormatInt(t.Good, 10),
			g(t.Min), g(t.Max), g(t.Mean), g(t.StdDev), g(t.LSL), g(t.USL), g(t.Cpk), g(t.Ppk), g(t.BadShare), strconv.Itoa(len(t.Gaps)), strconv.Itoa(t.GapsOmitted),
			strconv.Itoa(t.Decimals), strconv.FormatBool(t.Counter), g(t.Total), g(t.RatePerHour), dur(t.Sampling), dur(t.GapThreshold), strconv.Itoa(t.GapCount),
			dur(t.GapLongest), dur(t.GapTotal), g(t.Coverage)})
	}
	w.Write([]string{"#gap", "machine", "tag", "from", "to", "duration_s"})
	for _, t := range r.Tags {
		for _, gp := range t.Gaps {
			w.Write([]string{"gap", t.Machine, t.Tag, ts(gp.From), ts(gp.To), dur(gp.Duration)})
		}
	}
	w.Write([]string{"#excursion", "machine", "tag", "rule", "limit", "start", "end", "duration_s", "peak", "degree_minutes", "open"})
	for _, e := range r.Excursions {
		w.Write([]string{"excursion", e.Machine, e.Tag, e.Rule, g(e.Limit), ts(e.Start), ts(e.End), dur(e.Duration), g(e.Peak), g(e.DegreeMinutes), strconv.FormatBool(e.Open)})
	}
	w.Write([]string{"#cold_chain", "machine", "tag", "mkt_c", "mkt_limit_c", "delta_h_over_r_k", "mkt_ok", "tor_used_s", "tor_budget_s", "tor_low_c", "tor_high_c", "tor_ok"})
	for _, c := range r.ColdChain {
		w.Write([]string{"cold_chain", c.Machine, c.Tag, g(c.MKT), g(c.MKTLimit), g(c.Activation), strconv.FormatBool(c.MKTOK), dur(c.TORUsed), dur(c.TORBudget), g(c.TORLow), g(c.TORHigh), strconv.FormatBool(c.TOROK)})
	}
	w.Write([]string{"#storage", "location", "name", "from", "to", "probes", "excursions"})
	for _, st := range r.Storage {
		w.Write([]string{"storage", st.Location, csvSafe(st.Name), ts(st.From), ts(st.To), strconv.Itoa(len(st.Tags)), strconv.Itoa(len(st.Excursions))})
	}
	w.Write([]string{"#storage_cold_chain", "location", "machine", "tag", "mkt_c", "mkt_limit_c", "delta_h_over_r_k", "mkt_ok", "tor_used_s", "tor_budget_s", "tor_ok"})
	for _, st := range r.Storage {
		for _, c := range st.ColdChain {
			w.Write([]string{"storage_cold_chain", st.Location, c.Machine, c.Tag, g(c.MKT), g(c.MKTLimit), g(c.Activation), strconv.FormatBool(c.MKTOK), dur(c.TORUsed), dur(c.TORBudget), strconv.FormatBool(c.TOROK)})
		}
	}
	w.Write([]string{"#signal", "time", "end", "machine", "tag", "detector", "rule", "value", "limit", "severity", "message"})
	for _, s := range r.Signals {
		w.Write([]string{"signal", ts(s.Time), ts(s.End), s.Machine, s.Tag, s.Detector, s.Rule, g(s.Value), g(s.Limit), s.Severity, csvSafe(s.Message)})
	}
	w.Write([]string{"#reject", "machine", "good_tag", "reject_tag", "good", "rejects", "reject_fraction", "yield_pct", "yield_min_pct", "yield_ok", "p_bar", "subgroup", "out_of_control"})
	for _, rj := range r.Rejects {
		w.Write([]string{"reject", rj.Machine, rj.GoodTag, rj.RejectTag, g(rj.Good), g(rj.Rejects), g(rj.RejectFraction), g(rj.YieldPct), g(rj.YieldMinPct), strconv.FormatBool(rj.YieldOK), g(rj.PBar), rj.Subgroup, strconv.Itoa(rj.OutOfControl)})
	}
	w.Write([]string{"#alarm_event", "alarm_id", "machine", "tag", "detector", "rule", "priority", "seq", "time", "event", "from", "to", "by", "reason", "process_time"})
	for _, a := range r.Alarms {
		for _, e := range a.Events {
			w.Write([]string{"alarm_event", a.ID, a.Machine, a.Tag, a.Detector, a.Rule, a.Priority, strconv.FormatUint(e.Seq, 10), ts(e.Time), e.Event, e.From, e.To, csvSafe(e.By), csvSafe(e.Reason), ts(e.ProcessTime)})
		}
	}
	w.Write([]string{"#audit", "seq", "time", "actor", "action", "object", "reason", "hash"})
	for _, e := range r.Audit {
		w.Write([]string{"audit", strconv.FormatUint(e.Seq, 10), ts(e.Time), csvSafe(e.Actor), e.Action, csvSafe(e.Object), csvSafe(e.Reason), e.Hash})
	}
	w.Write([]string{"#signature", "user", "printed_name", "role", "meaning", "time", "report_digest", "key_id"})
	for _, s := range r.Signatures {
		w.Write([]string{"signature", csvSafe(s.User), csvSafe(s.Name), s.Role, s.Meaning, ts(s.Time), s.ReportDigest, s.KeyID})
	}
	w.Write([]string{"canonical", base64.StdEncoding.EncodeToString(canon)})
	w.Write([]string{"integrity", placeholder()})
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("CSV report: %w", err)
	}
	return b.Bytes(), nil
}
