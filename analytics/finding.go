package analytics

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Severity of a finding. Alarm priority is chosen by the alerts config; the
// severity says how strong the evidence is.
type Severity int

const (
	Info Severity = iota
	Warning
	Critical
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	default:
		return "critical"
	}
}

// Finding is what a detector reports when a condition starts (Active) or
// ends (!Active). Detectors report transitions, not every sample.
type Finding struct {
	// V and Kind are set by EncodeFinding on stream FINDINGS (StreamVersion,
	// KindFinding); a Finding passed in process leaves them zero.
	V         int       `json:"v,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	ID        string    `json:"id"` // deterministic: same data, same id (replays never duplicate)
	Time      time.Time `json:"time"`
	Site      string    `json:"site,omitempty"`
	Line      string    `json:"line"`
	Machine   string    `json:"machine"`
	Tag       string    `json:"tag"`
	Detector  string    `json:"detector"` // limits, flatline, roc, mkt, tor, humidity, nelson, ewma, cusum, p_chart, page_hinkley, pca, batch_evolution, yield, cpk
	Rule      string    `json:"rule,omitempty"`
	Active    bool      `json:"active"`
	Value     float64   `json:"value"`
	Statistic float64   `json:"statistic"`
	Limit     float64   `json:"limit"`
	Severity  Severity  `json:"severity"`
	Message   string    `json:"message"`
	Batch     string    `json:"batch,omitempty"`
	// Evidence holds detector-specific numbers (e.g. estimated new mean of a
	// CUSUM, per-variable contributions of a T² alarm).
	Evidence map[string]float64 `json:"evidence,omitempty"`
}

// Key is the stable identity of the condition a finding belongs to:
// line/machine/tag/detector[/rule].
func (f Finding) Key() string {
	k := f.Line + "/" + f.Machine + "/" + f.Tag + "/" + f.Detector
	if f.Rule != "" {
		k += "/" + f.Rule
	}
	return k
}

// MakeID derives the deterministic finding id from its identity, time and
// direction, so that a replay or a redelivered message yields the same id.
func MakeID(f Finding) string {
	h := sha256.New()
	h.Write([]byte(f.Site + "\x00" + f.Key() + "\x00"))
	h.Write([]byte(f.Time.UTC().Format(time.RFC3339Nano)))
	h.Write([]byte("\x00" + strconv.FormatBool(f.Active)))
	return hex.EncodeToString(h.Sum(nil)[:12])
}
