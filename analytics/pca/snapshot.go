package pca

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// SnapshotVersion is the version of the detector state Snapshot writes.
const SnapshotVersion = 1

// ErrSnapshotModel is returned (wrapped) by Restore when the snapshot was
// taken with another model or filter: its filtered statistics and counters
// mean nothing to this one, so the detector must start fresh.
var ErrSnapshotModel = errors.New("pca: detector snapshot belongs to a different model or filter")

// detectorSnapshot is the saved streaming state of a Detector. The model is
// identified by name, variables and the SHA-256 of its file form; the
// effective filter is stored too because it can be overridden per detector.
type detectorSnapshot struct {
	V           int      `json:"v"`
	Model       string   `json:"model"`
	ModelSHA256 string   `json:"model_sha256"`
	Variables   []string `json:"variables"`
	Lags        int      `json:"lags"`
	Lambda      float64  `json:"ewma_lambda"`
	Persistence int      `json:"persistence"`
	// T², Q and T²_r. A snapshot written before T²_r existed has two
	// elements; the third decodes as zero, which is what a detector
	// without T²_r holds.
	Limits [numStats]float64   `json:"limits"`
	Rules  [numStats]ruleSaved `json:"rules"`
	// Hist is the lag ring as stored (len Dim()), Head the slot the next
	// observation goes to, Filled how many slots hold data.
	Hist      []float64         `json:"hist"`
	Head      int               `json:"head"`
	Filled    int               `json:"filled"`
	Last      string            `json:"last,omitempty"` // RFC 3339, time of the last accepted observation
	LastRaw   [numStats]float64 `json:"last_raw"`
	LastValue [numStats]float64 `json:"last_value"`
}

type ruleSaved struct {
	EWMA   float64 `json:"ewma"`
	Over   int     `json:"over"`
	Under  int     `json:"under"`
	Active bool    `json:"active,omitempty"`
}

// ModelSHA256 is the SHA-256 of the detector's model in file form (the
// checksum a model file written by Save carries).
func (d *Detector) ModelSHA256() string { return d.sha }

// Snapshot saves the streaming state (EWMA-filtered statistics, persistence
// counters, active conditions, lag history and time order) as versioned
// JSON, so a restarted detector neither re-raises nor loses a condition.
func (d *Detector) Snapshot() ([]byte, error) {
	s := detectorSnapshot{
		V: SnapshotVersion, Model: d.m.Name, ModelSHA256: d.sha, Variables: d.m.Variables, Lags: d.m.Lags,
		Lambda: d.lambda, Persistence: d.persist, Limits: d.limit,
		Hist: d.hist, Head: d.head, Filled: d.filled, Last: rfc3339(d.last),
		LastRaw: d.lastRaw, LastValue: d.lastValue,
	}
	for i, r := range d.st {
		s.Rules[i] = ruleSaved{EWMA: r.ewma, Over: r.over, Under: r.under, Active: r.active}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("pca: snapshot detector of model %q: %w", d.m.Name, err)
	}
	return b, nil
}

// Restore loads a Snapshot taken from a detector of the same model (same
// name, variables and SHA-256) and filter. On any error the detector is
// unchanged; a mismatch wraps ErrSnapshotModel.
func (d *Detector) Restore(data []byte) error {
	var s detectorSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("pca: restore detector of model %q: %w", d.m.Name, err)
	}
	if s.V != SnapshotVersion {
		return fmt.Errorf("pca: restore detector of model %q: snapshot version %d, this build reads %d", d.m.Name, s.V, SnapshotVersion)
	}
	switch {
	case s.Model != d.m.Name:
		return fmt.Errorf("%w: snapshot of model %q, detector runs %q", ErrSnapshotModel, s.Model, d.m.Name)
	case !slices.Equal(s.Variables, d.m.Variables) || s.Lags != d.m.Lags:
		return fmt.Errorf("%w: model %q: snapshot variables %q (lags %d), model has %q (lags %d)",
			ErrSnapshotModel, d.m.Name, s.Variables, s.Lags, d.m.Variables, d.m.Lags)
	case s.ModelSHA256 != d.sha:
		return fmt.Errorf("%w: model %q was retrained or edited (snapshot sha256 %.12s…, model %.12s…)",
			ErrSnapshotModel, d.m.Name, s.ModelSHA256, d.sha)
	case s.Lambda != d.lambda || s.Persistence != d.persist || s.Limits != d.limit:
		return fmt.Errorf("%w: model %q: snapshot filter lambda %g persistence %d limits %v, detector lambda %g persistence %d limits %v",
			ErrSnapshotModel, d.m.Name, s.Lambda, s.Persistence, s.Limits, d.lambda, d.persist, d.limit)
	}
	slots := d.m.Lags + 1
	if len(s.Hist) != len(d.hist) || s.Head < 0 || s.Head >= slots || s.Filled < 0 || s.Filled > slots {
		return fmt.Errorf("pca: restore detector of model %q: lag history of %d values, head %d, filled %d does not fit %d slots of %d",
			d.m.Name, len(s.Hist), s.Head, s.Filled, slots, d.nv)
	}
	for _, r := range s.Rules {
		if r.Over < 0 || r.Under < 0 || math.IsNaN(r.EWMA) {
			return fmt.Errorf("pca: restore detector of model %q: invalid rule state %+v", d.m.Name, r)
		}
	}
	var last time.Time
	if s.Last != "" {
		var err error
		if last, err = parseTime("snapshot time", s.Last); err != nil {
			return err
		}
	}
	copy(d.hist, s.Hist)
	d.head, d.filled, d.last = s.Head, s.Filled, last
	d.lastRaw, d.lastValue = s.LastRaw, s.LastValue
	for i, r := range s.Rules {
		d.st[i] = ruleState{ewma: r.EWMA, over: r.Over, under: r.Under, active: r.Active}
	}
	return nil
}
