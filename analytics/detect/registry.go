package detect

import (
	"fmt"
	"reflect"
	"time"
)

// Rule is the registry of the detectors an analytics rule can attach: one
// field per detector, its YAML key the detector's key under the rule, its
// type the detector's parameters (YAML keys, defaults and checks in the
// detector's own file). config.Rule embeds it and the analytics engine
// builds every detector set in it, in this order. Adding a detector is its
// file, a field here and its docs.
type Rule struct {
	Limits       *LimitsParams      `yaml:"limits"`
	Flatline     *FlatlineParams    `yaml:"flatline"`
	RateOfChange *ROCParams         `yaml:"rate_of_change"`
	Shewhart     *NelsonParams      `yaml:"shewhart"`
	EWMA         *EWMAParams        `yaml:"ewma"`
	CUSUM        *CUSUMParams       `yaml:"cusum"`
	PageHinkley  *PageHinkleyParams `yaml:"page_hinkley"`
	MKT          *MKTParams         `yaml:"mkt"`
	TOR          *TORParams         `yaml:"tor"`
	Stale        *StaleParams       `yaml:"stale"`
	Cpk          *CpkParams         `yaml:"cpk"`
	PChart       *PChartParams      `yaml:"p_chart"`
	Yield        *YieldRule         `yaml:"yield"`
}

// Spec is one detector as configured under a rule: a pointer to its
// parameters.
type Spec interface {
	// SetDefaults fills in what the configuration leaves out (zero means
	// "the default").
	SetDefaults()
	// Check reports every problem of the parameters.
	Check() []Problem
}

// Builder is a Spec that makes a detector per tag. Yield has none: the
// engine tracks it per machine and batch.
type Builder interface {
	Spec
	Build(t Target) (Detector, error)
}

// TargetChecker is a Spec that needs something of the tags it is attached
// to (limits, spec limits, counter tags).
type TargetChecker interface {
	Spec
	CheckTarget(t Target) []Problem
}

// Prefiller is a Spec with defaults that only an absent key takes (a key
// written as 0 keeps 0): the config decoder calls Prefill on a new value
// before it decodes the keys into it.
type Prefiller interface {
	Prefill()
}

// Target is what a detector learns from the tag a rule attaches it to.
type Target struct {
	Tag                string // line/machine/tag, for messages
	Machine            string // line/machine
	Role               string
	Lo, Hi, LoLo, HiHi *float64
	LSL, USL           *float64
	// HasTag reports whether the tag's machine has a tag of that name.
	HasTag func(name string) bool
	// Unit is the tag's engineering unit (MKT converts a °F or K tag to
	// kelvin itself).
	Unit string
	// Value and Time write a value of the tag (its unit and decimals) and
	// a time (site zone) for finding messages; nil: DefaultDecimals, no
	// unit, UTC.
	Value func(v float64) string
	Time  func(t time.Time) string
}

// Problem is one bad parameter of a configured detector.
type Problem struct {
	Field   string   // key path under the detector ("lambda", "baseline.sigma", "rules[2]"); "" for the detector itself
	Value   string   // the bad value as written; "" when missing
	Allowed string   // what is allowed
	OneOf   []string // when set, the allowed values (Allowed is then unused)
}

// Named is a detector set in a Rule, with its key.
type Named struct {
	Key  string
	Spec Spec
}

// Specs lists the detectors set in r, in registry order.
func (r *Rule) Specs() []Named {
	v := reflect.ValueOf(r).Elem()
	var out []Named
	for i := range v.NumField() {
		if f := v.Field(i); !f.IsNil() {
			out = append(out, Named{Key: ruleKeys[i], Spec: f.Interface().(Spec)})
		}
	}
	return out
}

// RuleKeys are the detector keys of a rule, in registry order.
func RuleKeys() []string { return append([]string(nil), ruleKeys...) }

var ruleKeys = func() []string {
	t := reflect.TypeFor[Rule]()
	keys := make([]string, t.NumField())
	for i := range keys {
		f := t.Field(i)
		if !f.Type.Implements(reflect.TypeFor[Spec]()) {
			panic(fmt.Sprintf("detect.Rule.%s: %s is not a Spec", f.Name, f.Type))
		}
		keys[i] = f.Tag.Get("yaml")
	}
	return keys
}()

// atLeast is the check of a configured duration with a floor.
func atLeast(field string, got, least time.Duration) []Problem {
	if got < least {
		return []Problem{{Field: field, Value: got.String(), Allowed: fmt.Sprintf("must be at least %s", least)}}
	}
	return nil
}

// bad is one problem with a numeric value.
func bad(field string, got any, allowed string, args ...any) Problem {
	return Problem{Field: field, Value: fmt.Sprint(got), Allowed: fmt.Sprintf(allowed, args...)}
}

// or is x, or def when x is 0.
func or(x, def float64) float64 {
	if x == 0 {
		return def
	}
	return x
}
