package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/audit"
)

// SchemaVersion versions the report JSON (and so its canonical encoding).
// 2: site time zone, tag decimals, counters as totals and rates, gaps
// judged against the observed sampling and summarised per tag, storage
// locations, SPC charts, required signature meanings.
const SchemaVersion = 2

// Num is a float64 that encodes NaN and ±Inf as JSON null (and decodes
// null as NaN), so undefined statistics (Cpk without spread, MKT without
// data) survive the canonical JSON.
type Num float64

// MarshalJSON implements json.Marshaler with the shortest exact form.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Num) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("number %q: %w", b, err)
	}
	*n = Num(f)
	return nil
}

// Defined reports whether the number is finite.
func (n Num) Defined() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// Report is the whole QA batch report. Its canonical JSON (json.Marshal of
// this struct: fixed field order, compact, UTC RFC 3339 times, NaN as null)
// is what the content digest covers.
type Report struct {
	V           int           `json:"v"`
	Header      Header        `json:"header"`
	Tags        []TagStats    `json:"tags"`
	Excursions  []Excursion   `json:"excursions"`
	ColdChain   []ColdChain   `json:"cold_chain"`
	Signals     []Signal      `json:"signals"`
	SignalsLeft int           `json:"signals_omitted,omitempty"`
	Rejects     []RejectStats `json:"rejects"`
	Alarms      []AlarmRecord `json:"alarms"`
	Audit       []audit.Entry `json:"audit"`
	Charts      []Chart       `json:"charts"`
	// SPCCharts are the EWMA and CUSUM statistics of the tags whose chart
	// signalled during the batch.
	SPCCharts []SPCChart `json:"spc_charts"`
	// Storage are the storage locations the batch passed through
	// (reports.storage_locations), each with its excursions, MKT and TOR.
	Storage []StorageReport `json:"storage"`
	// GoldenBatch holds the batch's trajectories over the golden-batch
	// envelopes of the line's analytics.batch_models (none: no model).
	GoldenBatch []GoldenChart `json:"golden_batch,omitempty"`
	// Signatures are the electronic signatures (review, approval,
	// responsibility) added with Sign; each is bound to the digest of the
	// report without signatures.
	Signatures []ESignature `json:"signatures"`
}

// Header identifies the batch and how the report was produced.
type Header struct {
	Site          string    `json:"site"`
	Line          string    `json:"line"`
	LineName      string    `json:"line_name,omitempty"`
	Product       string    `json:"product,omitempty"`
	Batch         string    `json:"batch"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	GeneratedAt   time.Time `json:"generated_at"`
	GeneratedBy   string    `json:"generated_by"`
	Version       string    `json:"linewatch_version"`
	ConfigFile    string    `json:"config_file"`
	ConfigSHA256  string    `json:"config_sha256"`
	SamplesRead   int64     `json:"samples_read"`
	AnalyticsNote string    `json:"analytics_note"`
	// TimeZone is the site time zone (config time_zone) every time of the
	// PDF and HTML is written in.
	TimeZone string `json:"time_zone"`
	// StorageConfigured is false when no storage location lists the
	// batch's line: the report then cannot say where the batch was kept.
	StorageConfigured bool `json:"storage_configured"`
	// RequiredSignatures are the meanings the signature block always shows
	// (reports.signatures.required), signed or pending.
	RequiredSignatures []string `json:"required_signatures"`
}

// Gap is a period without readings longer than the tag's gap threshold
// (GapFactor times its observed median sampling interval).
type Gap struct {
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Duration time.Duration `json:"duration_ns"`
}

// TagStats are the statistics of one tag over the batch (good readings
// only; Bad counts uncertain and bad ones).
type TagStats struct {
	Machine      string        `json:"machine"`
	Tag          string        `json:"tag"`
	Unit         string        `json:"unit,omitempty"`
	Role         string        `json:"role,omitempty"`
	Critical     bool          `json:"critical,omitempty"`
	Count        int64         `json:"count"`
	Good         int64         `json:"good"`
	Min          Num           `json:"min"`
	Max          Num           `json:"max"`
	Mean         Num           `json:"mean"`
	StdDev       Num           `json:"std_dev"`
	LSL          Num           `json:"lsl"`
	USL          Num           `json:"usl"`
	Cpk          Num           `json:"cpk"`
	Ppk          Num           `json:"ppk"`
	BadShare     Num           `json:"bad_share"`
	PollInterval time.Duration `json:"poll_interval_ns,omitempty"`
	// Decimals are the tag's display decimals (config decimals, else
	// display.DefaultDecimals).
	Decimals int `json:"decimals"`
	// Counter: a counter tag (role good_count or reject_count): Total is
	// the count over the batch (resets handled), RatePerHour Total per
	// hour of the batch; Mean and StdDev are not defined for a counter.
	Counter     bool `json:"counter,omitempty"`
	Total       Num  `json:"total"`
	RatePerHour Num  `json:"rate_per_hour"`
	// Sampling is the observed median interval between readings; a gap
	// is an interval longer than GapThreshold (GapFactor × Sampling).
	Sampling     time.Duration `json:"sampling_ns"`
	GapThreshold time.Duration `json:"gap_threshold_ns"`
	GapCount     int           `json:"gap_count"`
	GapLongest   time.Duration `json:"gap_longest_ns"`
	GapTotal     time.Duration `json:"gap_total_ns"`
	// Coverage is the share of the batch not inside a gap.
	Coverage Num `json:"coverage"`
	// Gaps are the longest gaps (at most maxGapsListed), in time order.
	Gaps        []Gap `json:"gaps"`
	GapsOmitted int   `json:"gaps_omitted,omitempty"`
}

// Key is machine/tag.
func (t TagStats) Key() string { return t.Machine + "/" + t.Tag }

// Excursion is one period beyond an alarm limit, from detect.Limits.
type Excursion struct {
	Machine       string        `json:"machine"`
	Tag           string        `json:"tag"`
	Rule          string        `json:"rule"`
	Limit         Num           `json:"limit"`
	Start         time.Time     `json:"start"`
	End           time.Time     `json:"end,omitzero"`
	Duration      time.Duration `json:"duration_ns"`
	Peak          Num           `json:"peak"`
	DegreeMinutes Num           `json:"degree_minutes"`
	Open          bool          `json:"open,omitempty"`
}

// ColdChain is MKT and time out of refrigeration of one temperature tag.
type ColdChain struct {
	Machine     string        `json:"machine"`
	Tag         string        `json:"tag"`
	MKT         Num           `json:"mkt_c"`
	MKTLimit    Num           `json:"mkt_limit_c"`
	Activation  Num           `json:"delta_h_over_r_k"`
	MKTOK       bool          `json:"mkt_ok"`
	TORUsed     time.Duration `json:"tor_used_ns"`
	TORBudget   time.Duration `json:"tor_budget_ns"`
	TORLow      Num           `json:"tor_low_c"`
	TORHigh     Num           `json:"tor_high_c"`
	TOROK       bool          `json:"tor_ok"`
	HasMKT      bool          `json:"has_mkt"`
	HasTOR      bool          `json:"has_tor"`
	Description string        `json:"description"`
}

// Signal is one finding of a detector during the batch (start of a
// condition; ends are folded into End).
type Signal struct {
	Time     time.Time `json:"time"`
	End      time.Time `json:"end,omitzero"`
	Machine  string    `json:"machine"`
	Tag      string    `json:"tag"`
	Detector string    `json:"detector"`
	Rule     string    `json:"rule,omitempty"`
	Value    Num       `json:"value"`
	Limit    Num       `json:"limit"`
	Severity string    `json:"severity"`
	Message  string    `json:"message"`
}

// PPoint is one p-chart subgroup.
type PPoint struct {
	Time time.Time `json:"time"`
	P    Num       `json:"p"`
	N    Num       `json:"n"`
	UCL  Num       `json:"ucl"`
	LCL  Num       `json:"lcl"`
}

// RejectStats are the reject fraction and yield of one machine.
type RejectStats struct {
	Machine        string   `json:"machine"`
	GoodTag        string   `json:"good_tag"`
	RejectTag      string   `json:"reject_tag"`
	Good           Num      `json:"good"`
	Rejects        Num      `json:"rejects"`
	RejectFraction Num      `json:"reject_fraction"`
	YieldPct       Num      `json:"yield_pct"`
	YieldMinPct    Num      `json:"yield_min_pct"`
	YieldOK        bool     `json:"yield_ok"`
	PBar           Num      `json:"p_bar"`
	Subgroup       string   `json:"subgroup"`
	Points         []PPoint `json:"points"`
	OutOfControl   int      `json:"out_of_control"`
}

// AlarmEvent is one transition of an alarm's lifecycle.
type AlarmEvent struct {
	Seq uint64 `json:"seq"`
	// Time is when the alarm service recorded the transition (its clock);
	// ProcessTime, for activations and clears, is when the machine measured
	// the condition (the finding's time, the clock of the batch).
	Time        time.Time `json:"time"`
	ProcessTime time.Time `json:"process_time,omitzero"`
	Event       string    `json:"event"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	By          string    `json:"by,omitempty"`
	Reason      string    `json:"reason,omitempty"`
}

// AlarmRecord is one alarm with every transition seen from the batch start
// to the time of the report.
type AlarmRecord struct {
	ID       string       `json:"id"`
	Machine  string       `json:"machine"`
	Tag      string       `json:"tag"`
	Detector string       `json:"detector"`
	Rule     string       `json:"rule,omitempty"`
	Priority string       `json:"priority"`
	Message  string       `json:"message"`
	Events   []AlarmEvent `json:"events"`
}

// ChartPoint is one min/max bucket of a trend.
type ChartPoint struct {
	Time time.Time `json:"time"`
	Min  Num       `json:"min"`
	Max  Num       `json:"max"`
	Mean Num       `json:"mean"`
}

// Chart is the downsampled trend of a critical tag with its limits.
type Chart struct {
	Machine  string       `json:"machine"`
	Tag      string       `json:"tag"`
	Unit     string       `json:"unit,omitempty"`
	Decimals int          `json:"decimals"`
	Limits   []Limit      `json:"limits"`
	Points   []ChartPoint `json:"points"`
}

// SPCChart is the statistic of an EWMA or CUSUM chart over the batch, one
// point per chart bucket (its last value), with its control limits.
type SPCChart struct {
	Machine  string `json:"machine"`
	Tag      string `json:"tag"`
	Unit     string `json:"unit,omitempty"`
	Decimals int    `json:"decimals"`
	Detector string `json:"detector"`
	// Series names the values of each point: ewma, ucl, lcl, cl for EWMA;
	// cusum_hi, cusum_lo, cusum_h for CUSUM.
	Series []string   `json:"series"`
	Points []SPCPoint `json:"points"`
}

// SPCPoint is one bucket of an SPCChart.
type SPCPoint struct {
	Time time.Time `json:"time"`
	V    []Num     `json:"v"`
}

// Limit is a named horizontal line of a chart.
type Limit struct {
	Name  string `json:"name"`
	Value Num    `json:"value"`
}

// ESignature is an electronic signature (21 CFR §11.50): printed name,
// date and time (UTC) and meaning, bound (§11.70) to ReportDigest — the
// SHA-256 of the canonical report without signatures — and sealed by the
// signing service (its audit key, never held by signers) after it checked
// the password and role and recorded the signing in the audit trail, so it
// can be neither edited, forged nor copied to another report.
type ESignature struct {
	User         string    `json:"user"`
	Name         string    `json:"printed_name"`
	Role         string    `json:"role,omitempty"`
	Meaning      string    `json:"meaning"`
	Time         time.Time `json:"time"`
	ReportDigest string    `json:"report_digest"`
	// KeyID names the signing service's key that made Seal.
	KeyID string `json:"key_id"`
	// AuditSeq and AuditHash name the report.signed audit entry the
	// service appended before sealing (verify cross-checks them).
	AuditSeq  uint64 `json:"audit_seq,omitempty"`
	AuditHash string `json:"audit_hash,omitempty"`
	Seal      string `json:"seal"`
}

// Transitions in the alerts JSON are what AlarmSource returns.
type Transition = alerts.Transition

// Canonical returns the canonical JSON of r.
func (r *Report) Canonical() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("canonical report JSON: %w", err)
	}
	return b, nil
}

// unsignedDigest is the SHA-256 of the canonical report without its
// electronic signatures: what each signature is bound to.
func (r *Report) unsignedDigest() (string, error) {
	c := *r
	c.Signatures = nil
	b, err := c.Canonical()
	if err != nil {
		return "", err
	}
	return sha256Hex(b), nil
}
