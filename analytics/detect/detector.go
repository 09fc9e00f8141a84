package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// Detector is one streaming detector for one tag (or, for the p-chart, one
// pair of counter tags).
type Detector interface {
	// Name is the detector name written into findings ("limits", "ewma", …).
	Name() string
	// Update feeds one sample and appends findings for the transitions it
	// causes to dst. Non-good and non-finite samples are ignored. It does not
	// allocate when no finding is produced.
	Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding
	// AppendStats appends the current statistics (centre line, limits,
	// EWMA value, CUSUM sums, MKT, TOR used %, …) for the spc measurement.
	AppendStats(dst []Stat) []Stat
	// Snapshot encodes the state; Restore loads it into a detector built
	// with the same parameters.
	Snapshot() ([]byte, error)
	Restore(data []byte) error
}

// Stat is one named statistic of a detector, written as a field of the spc
// measurement. Names are snake_case and stable (see docs/analytics.md).
type Stat struct {
	Name  string
	Value float64
}

// Detector names as written into analytics.Finding.Detector.
const (
	NameLimits      = "limits"
	NameHumidity    = "humidity"
	NameFlatline    = "flatline"
	NameROC         = "roc"
	NameMKT         = "mkt"
	NameTOR         = "tor"
	NameNelson      = "nelson"
	NameEWMA        = "ewma"
	NameCUSUM       = "cusum"
	NamePChart      = "p_chart"
	NamePageHinkley = "page_hinkley"
	NameYield       = "yield"
	NameCpk         = "cpk"
	NameStale       = "stale"
	// NameNonFinite is the engine's finding on a critical tag whose
	// sensor sends NaN or ±Inf (ignored by every detector).
	NameNonFinite = "non_finite"
)

// usable reports whether a sample may feed a detector: good, finite and
// numeric (a text read from a numeric tag, a wrong type, is not a 0).
func usable(s sample.Sample) bool {
	return s.Good() && s.Text == "" && !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0)
}

// finding builds a finding from the sample's identity and sets its ID.
// Only called on transitions, so the fmt allocation is off the hot path.
func finding(s sample.Sample, detector, rule string, active bool, statistic, limit float64,
	sev analytics.Severity, msg string, evidence map[string]float64) analytics.Finding {
	f := analytics.Finding{
		Time:      s.Time.UTC(),
		Site:      s.Site,
		Line:      s.Line,
		Machine:   s.Machine,
		Tag:       s.Tag,
		Batch:     s.Batch,
		Detector:  detector,
		Rule:      rule,
		Active:    active,
		Value:     s.Value,
		Statistic: statistic,
		Limit:     limit,
		Severity:  sev,
		Message:   msg,
		Evidence:  evidence,
	}
	f.ID = analytics.MakeID(f)
	return f
}

// verb returns "started" or "ended" for messages.
func verb(active bool) string {
	if active {
		return "started"
	}
	return "ended"
}

const snapshotVersion = 1

type envelope struct {
	V        int             `json:"v"`
	Detector string          `json:"detector"`
	Params   string          `json:"params"` // fingerprint of the parameters
	State    json.RawMessage `json:"state"`
}

func fingerprint(params any) (string, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return "", fmt.Errorf("fingerprint parameters: %w", err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8]), nil
}

// snapshot encodes state with a version and a fingerprint of params, so a
// state is never restored into a detector configured differently.
func snapshot(detector string, params, state any) ([]byte, error) {
	fp, err := fingerprint(params)
	if err != nil {
		return nil, err
	}
	st, err := json.Marshal(state)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s state: %w", detector, err)
	}
	return json.Marshal(envelope{V: snapshotVersion, Detector: detector, Params: fp, State: st})
}

func restore(data []byte, detector string, params, state any) error {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("restore %s state: %w", detector, err)
	}
	if env.V != snapshotVersion {
		return fmt.Errorf("restore %s state: snapshot version %d not supported (want %d); discard the saved state", detector, env.V, snapshotVersion)
	}
	if env.Detector != detector {
		return fmt.Errorf("restore %s state: snapshot is of detector %q", detector, env.Detector)
	}
	fp, err := fingerprint(params)
	if err != nil {
		return err
	}
	if env.Params != fp {
		return fmt.Errorf("restore %s state: saved with different parameters (fingerprint %s, now %s); discard the saved state to start fresh", detector, env.Params, fp)
	}
	if err := json.Unmarshal(env.State, state); err != nil {
		return fmt.Errorf("restore %s state: %w", detector, err)
	}
	return nil
}

// holdSpan is the time a reading at prev is taken to cover when the next
// reading arrives at now: zero-order hold, capped at maxGap so that a data
// gap does not credit a stale value for hours. maxGap <= 0 means no cap.
func holdSpan(prev, now time.Time, maxGap time.Duration) time.Duration {
	d := now.Sub(prev)
	if d < 0 {
		return 0
	}
	if maxGap > 0 && d > maxGap {
		return maxGap
	}
	return d
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

var (
	_ Detector = (*Limits)(nil)
	_ Detector = (*Flatline)(nil)
	_ Detector = (*RateOfChange)(nil)
	_ Detector = (*RollingMKT)(nil)
	_ Detector = (*TOR)(nil)
	_ Detector = (*Nelson)(nil)
	_ Detector = (*EWMA)(nil)
	_ Detector = (*CUSUM)(nil)
	_ Detector = (*PChart)(nil)
	_ Detector = (*PageHinkley)(nil)
	_ Detector = (*CpkMonitor)(nil)
)
