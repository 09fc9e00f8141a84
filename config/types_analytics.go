package config

import (
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
)

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
	// LeaseTTL is how long a line's lease stays valid without renewal:
	// a dead analytics worker's lines are taken over within LeaseTTL +
	// LeaseRenew (default 5s).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// LeaseRenew is the lease renewal interval (default LeaseTTL/3).
	LeaseRenew time.Duration `yaml:"lease_renew"`
	Rules      []Rule        `yaml:"rules"`
	Models     []PCAModel    `yaml:"models"`
}

// Rule applies detectors to the tags it selects. Tags are "line/machine/tag"
// patterns; "*" matches one whole segment. The detectors and their keys are
// detect.Rule, the registry: each detector's parameters, defaults and checks
// are declared once, in its file in analytics/detect.
type Rule struct {
	Name        string   `yaml:"name"`
	Tags        []string `yaml:"tags"`
	detect.Rule `yaml:",inline"`
}

// PCAModel is a multivariate model trained by `linewatch analytics train`.
type PCAModel struct {
	Name string `yaml:"name"`
	File string `yaml:"file"`
	// Line the model watches; Tags are "machine/tag" in model variable order.
	Line string   `yaml:"line"`
	Tags []string `yaml:"tags"`
}
