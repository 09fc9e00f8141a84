package config

import "time"

// Analytics maps tags to detectors.
type Analytics struct {
	// IncludeNonGood feeds uncertain and bad values to detectors; by default
	// they are stored but ignored by analytics.
	IncludeNonGood bool `yaml:"include_non_good"`
	// Consumer is the durable JetStream consumer name of the live engine.
	Consumer string `yaml:"consumer"`
	// LagAlarm raises the system alarm "analytics lagging" when the live
	// engine is behind telemetry by more than this (default 2m).
	LagAlarm time.Duration `yaml:"lag_alarm"`
	Rules    []Rule        `yaml:"rules"`
	Models   []PCAModel    `yaml:"models"`
}

// Rule applies detectors to the tags it selects. Tags are "line/machine/tag"
// patterns; "*" matches one whole segment.
type Rule struct {
	Name         string            `yaml:"name"`
	Tags         []string          `yaml:"tags"`
	Limits       *LimitsRule       `yaml:"limits"`
	Flatline     *FlatlineRule     `yaml:"flatline"`
	RateOfChange *RateOfChangeRule `yaml:"rate_of_change"`
	Shewhart     *ShewhartRule     `yaml:"shewhart"`
	EWMA         *EWMARule         `yaml:"ewma"`
	CUSUM        *CUSUMRule        `yaml:"cusum"`
	PageHinkley  *PageHinkleyRule  `yaml:"page_hinkley"`
	MKT          *MKTRule          `yaml:"mkt"`
	TOR          *TORRule          `yaml:"tor"`
	PChart       *PChartRule       `yaml:"p_chart"`
	Yield        *YieldRule        `yaml:"yield"`
	Stale        *StaleRule        `yaml:"stale"`
	Cpk          *CpkRule          `yaml:"cpk"`
}

// Baseline gives the in-control mean and sigma, or the number of first
// samples to estimate them from (sigma = MR̄/1.128).
type Baseline struct {
	Mean    *float64 `yaml:"mean"`
	Sigma   *float64 `yaml:"sigma"`
	Samples int      `yaml:"samples"`
}

// LimitsRule checks the tag's lo/hi/lolo/hihi limits.
type LimitsRule struct {
	OnDelay  time.Duration `yaml:"on_delay"`
	OffDelay time.Duration `yaml:"off_delay"`
	Deadband float64       `yaml:"deadband"`
}

// FlatlineRule flags a stuck sensor: no change beyond Tolerance for Window.
type FlatlineRule struct {
	Window    time.Duration `yaml:"window"`
	Tolerance float64       `yaml:"tolerance"`
}

// StaleRule flags a sensor whose source timestamp stops advancing for
// After while its machine goes on reporting (a frozen sensor that the
// flatline check cannot see, because its re-reads are not new measurements).
type StaleRule struct {
	After time.Duration `yaml:"after"`
}

// CpkRule judges the process capability of each batch against the tag's
// spec limits (spec.lsl / spec.usl) when the batch ends.
type CpkRule struct {
	// MinCpk: a batch below it is reported (default 1.33).
	MinCpk float64 `yaml:"min_cpk"`
	// MinSamples: batches with fewer values are not judged (default 30).
	MinSamples int `yaml:"min_samples"`
}

// RateOfChangeRule flags changes faster than MaxPerMinute.
type RateOfChangeRule struct {
	MaxPerMinute float64 `yaml:"max_per_minute"`
}

// ShewhartRule is an individuals chart with Nelson rules.
type ShewhartRule struct {
	Baseline Baseline `yaml:"baseline"`
	// Rules: Nelson rule numbers 1–8. Preset: nelson (all 8) or western_electric (1, 2, 5, 6).
	Rules  []int  `yaml:"rules"`
	Preset string `yaml:"preset"`
}

// EWMARule is an exponentially weighted moving average chart.
type EWMARule struct {
	Baseline   Baseline `yaml:"baseline"`
	Lambda     float64  `yaml:"lambda"`
	L          float64  `yaml:"l"`
	Asymptotic bool     `yaml:"asymptotic"`
	// Hysteresis: a started shift ends only once the EWMA is back inside
	// the limit by this fraction of the half-width; 0 = none. Not written:
	// DefaultEWMAHysteresis (set by applyDefaults, so never nil after Load).
	Hysteresis *float64 `yaml:"hysteresis"`
	// Autocorrelation is ρ(1), ρ(2), … of the in-control readings at the
	// poll interval (from linewatch analytics autocorrelation): the limits
	// then hold for correlated readings (Zhang's EWMAST chart).
	Autocorrelation []float64 `yaml:"autocorrelation"`
}

// CUSUMRule is a tabular CUSUM; K and H in sigma units.
type CUSUMRule struct {
	Baseline Baseline `yaml:"baseline"`
	K        float64  `yaml:"k"`
	H        float64  `yaml:"h"`
}

// PageHinkleyRule is the Page–Hinkley drift test.
type PageHinkleyRule struct {
	Delta  float64 `yaml:"delta"`
	Lambda float64 `yaml:"lambda"`
	Alpha  float64 `yaml:"alpha"`
}

// MKTRule is the rolling mean kinetic temperature (USP <1079>).
type MKTRule struct {
	Window time.Duration `yaml:"window"`
	// Limit is the label storage limit in °C.
	Limit float64 `yaml:"limit"`
	// DeltaHOverR in kelvin (USP default 10 000 K).
	DeltaHOverR float64 `yaml:"delta_h_over_r"`
}

// TORRule is the time-out-of-refrigeration budget of a product.
type TORRule struct {
	Low             float64       `yaml:"low"`
	High            float64       `yaml:"high"`
	Budget          time.Duration `yaml:"budget"`
	FreezeSensitive bool          `yaml:"freeze_sensitive"`
}

// PChartRule is a p-chart of reject fraction from two counters of the
// rule's machine (tag names within the machine).
type PChartRule struct {
	GoodTag   string        `yaml:"good_tag"`
	RejectTag string        `yaml:"reject_tag"`
	Subgroup  time.Duration `yaml:"subgroup"`
	Laney     bool          `yaml:"laney"`
	// PBar fixes the centre line; 0 estimates it from the first BaselineSubgroups.
	PBar              float64 `yaml:"p_bar"`
	BaselineSubgroups int     `yaml:"baseline_subgroups"`
	// TwoSided also reports subgroups below the lower limit (fewer rejects
	// than usual: worth a look, not waste). Default: upper limit only.
	TwoSided bool `yaml:"two_sided"`
}

// YieldRule checks per-batch yield good/(good+reject) against a minimum.
type YieldRule struct {
	GoodTag   string  `yaml:"good_tag"`
	RejectTag string  `yaml:"reject_tag"`
	Min       float64 `yaml:"min"`
}

// PCAModel is a multivariate model trained by `linewatch analytics train`.
type PCAModel struct {
	Name string `yaml:"name"`
	File string `yaml:"file"`
	// Line the model watches; Tags are "machine/tag" in model variable order.
	Line string   `yaml:"line"`
	Tags []string `yaml:"tags"`
}
