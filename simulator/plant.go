package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Line models understood by the simulator. Each model owns a fixed set of
// machines and tags (see docs/simulator.md) and couples them with physics.
const (
	ModelVialFilling = "vial_filling"
	ModelColdRoom    = "cold_room"
	ModelTabletPress = "tablet_press"
	ModelFreezeDryer = "freeze_dryer"
	ModelGeneric     = "generic"
)

// MaxExtraTags bounds the synthetic load-test tags.
const MaxExtraTags = 50000

// Plant describes the simulated plant: its lines and the faults scheduled
// from the plant file.
type Plant struct {
	Name      string      `yaml:"name"`
	Lines     []LineSpec  `yaml:"lines"`
	Faults    []FaultSpec `yaml:"faults"`
	ExtraTags int         `yaml:"extra_tags"`
}

// LineSpec is one production line. Model selects the physics; Params
// overrides the model's documented numeric parameters.
type LineSpec struct {
	ID          string             `yaml:"id"`
	Model       string             `yaml:"model"`
	BatchLength Duration           `yaml:"batch_length"`
	BatchPrefix string             `yaml:"batch_prefix"`
	ProductCode string             `yaml:"product_code"`
	Params      map[string]float64 `yaml:"params"`
	Machines    []MachineSpec      `yaml:"machines"` // generic model only
}

// MachineSpec is a machine of a generic line.
type MachineSpec struct {
	ID   string    `yaml:"id"`
	Tags []TagSpec `yaml:"tags"`
}

// TagSpec is an analog tag of a generic machine: an AR(1) process around
// Mean with an optional sine cycle.
type TagSpec struct {
	ID          string   `yaml:"id"`
	Unit        string   `yaml:"unit"`
	Description string   `yaml:"description"`
	Mean        float64  `yaml:"mean"`
	SD          float64  `yaml:"sd"`
	Tau         Duration `yaml:"tau"`
	CyclePeriod Duration `yaml:"cycle_period"`
	CycleAmp    float64  `yaml:"cycle_amplitude"`
}

// FaultSpec is a fault scheduled in the plant file. At is either an offset
// from the simulated start ("2h", "90m") or an RFC 3339 time.
type FaultSpec struct {
	Fault `yaml:",inline"`
	AtRaw string `yaml:"at"`
}

// Duration is a time.Duration written as a Go duration string ("8h", "90s")
// in YAML and JSON.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string like \"8h\": %w", n.Line, err)
	}
	return d.UnmarshalText([]byte(s))
}

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (use e.g. \"90s\", \"8h\"): %w", b, err)
	}
	if v < 0 {
		return fmt.Errorf("bad duration %q: must not be negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// modelParams lists every model's parameters with their defaults. Params in
// the plant file must be one of these keys.
var modelParams = map[string]map[string]float64{
	ModelVialFilling: {
		"fill_target_g":          2.000,
		"fill_sd_g":              0.002, // dosing mean wander; vial_sd_g is per vial
		"fill_tolerance_g":       0.040,
		"vial_sd_g":              0.008,
		"speed_vials_per_min":    300,
		"base_reject_fraction":   0.0047,
		"stopper_reject_frac":    0.001,
		"cip_minutes":            30,
		"stops_per_hour":         0.3,
		"stop_minutes":           4,
		"faults_per_hour":        0.03,
		"fault_minutes":          12,
		"fill_tau_seconds":       120,
		"speed_sd_vials_per_min": 2,
	},
	ModelColdRoom: {
		"setpoint_c":           5.0,
		"hysteresis_c":         1.0,
		"ambient_c":            22,
		"cool_rate_c_per_min":  0.5,
		"leak_per_min":         0.01,
		"door_leak_per_min":    0.06,
		"door_events_per_hour": 1.5,
		"door_seconds":         45,
		"probe_sd_c":           0.05,
		"probe2_offset_c":      0.3,
		"humidity_rh":          55,
	},
	ModelTabletPress: {
		"weight_target_mg":     250,
		"weight_sd_mg":         0.3, // die-fill mean wander; tablet_sd_mg is per tablet
		"tablet_sd_mg":         2.5,
		"weight_tolerance_mg":  12.5,
		"force_kn":             15,
		"hardness_n":           100,
		"thickness_mm":         4.0,
		"turret_rpm":           60,
		"stations":             36,
		"base_reject_fraction": 0.002,
		"setup_minutes":        20,
		"weight_tau_seconds":   300,
	},
	ModelFreezeDryer: {
		"freezing_hours":          4,
		"primary_hours":           20,
		"secondary_hours":         8,
		"freezing_shelf_c":        -45,
		"primary_shelf_c":         -20,
		"secondary_shelf_c":       30,
		"primary_pressure_ubar":   100,
		"secondary_pressure_ubar": 20,
		"condenser_c":             -70,
	},
	ModelGeneric: {},
}

var defaultBatchLength = map[string]time.Duration{
	ModelVialFilling: 8 * time.Hour,
	ModelTabletPress: 4 * time.Hour,
}

// DefaultPlant returns the built-in plant: an aseptic vial filling line, a
// 2–8 °C cold room, a tablet press and a freeze dryer.
func DefaultPlant() *Plant {
	return &Plant{
		Name: "linewatch demo plant",
		Lines: []LineSpec{
			{ID: "filling1", Model: ModelVialFilling, BatchLength: Duration(8 * time.Hour), BatchPrefix: "F1", ProductCode: "VAX-INJ-2ML"},
			{ID: "coldroom1", Model: ModelColdRoom},
			{ID: "tableting1", Model: ModelTabletPress, BatchLength: Duration(4 * time.Hour), BatchPrefix: "T1", ProductCode: "PARA-500"},
			{ID: "lyo1", Model: ModelFreezeDryer, BatchPrefix: "L1", ProductCode: "LYO-ABX-1G"},
		},
	}
}

// LoadPlant reads and validates a plant file.
func LoadPlant(path string) (*Plant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plant file: %w", err)
	}
	p, err := ParsePlant(b)
	if err != nil {
		return nil, fmt.Errorf("plant file %s: %w", path, err)
	}
	return p, nil
}

// ParsePlant decodes a plant file strictly (unknown keys are errors) and
// validates it, reporting every problem at once.
func ParsePlant(b []byte) (*Plant, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Plant
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode YAML: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks ids, models, params, generic tags and scheduled faults.
func (p *Plant) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(p.Lines) == 0 && p.ExtraTags == 0 {
		add("plant has no lines: add at least one line (see docs/simulator.md)")
	}
	if p.ExtraTags < 0 || p.ExtraTags > MaxExtraTags {
		add("extra_tags %d out of range: use 0..%d", p.ExtraTags, MaxExtraTags)
	}
	seen := map[string]bool{}
	for i, l := range p.Lines {
		where := fmt.Sprintf("lines[%d] (%s)", i, l.ID)
		if !idPattern.MatchString(l.ID) {
			add("%s: id %q must match %s", where, l.ID, idPattern)
		}
		if l.ID == "synthetic" {
			add("%s: id %q is reserved for extra tags", where, l.ID)
		}
		if seen[l.ID] {
			add("%s: duplicate line id %q", where, l.ID)
		}
		seen[l.ID] = true
		known, ok := modelParams[l.Model]
		if !ok {
			add("%s: unknown model %q: use one of %s", where, l.Model, strings.Join(modelNames(), ", "))
			continue
		}
		for k, v := range l.Params {
			if _, ok := known[k]; !ok {
				add("%s: unknown param %q for model %s: use one of %s", where, k, l.Model, strings.Join(sortedKeys(known), ", "))
			} else if v < 0 && !strings.HasSuffix(k, "_c") {
				add("%s: param %s=%v must not be negative", where, k, v)
			}
		}
		if l.Model != ModelGeneric && len(l.Machines) > 0 {
			add("%s: machines can only be listed for model %s; model %s has fixed machines", where, ModelGeneric, l.Model)
		}
		if l.Model == ModelGeneric {
			if len(l.Machines) == 0 {
				add("%s: generic line needs at least one machine", where)
			}
			mseen := map[string]bool{}
			for j, m := range l.Machines {
				mw := fmt.Sprintf("%s.machines[%d] (%s)", where, j, m.ID)
				if !idPattern.MatchString(m.ID) || mseen[m.ID] {
					add("%s: machine id %q must be unique and match %s", mw, m.ID, idPattern)
				}
				mseen[m.ID] = true
				tseen := map[string]bool{}
				for k, t := range m.Tags {
					if !idPattern.MatchString(t.ID) || tseen[t.ID] {
						add("%s.tags[%d]: tag id %q must be unique and match %s", mw, k, t.ID, idPattern)
					}
					tseen[t.ID] = true
					if t.SD < 0 || t.CycleAmp < 0 {
						add("%s.tags[%d] (%s): sd and cycle_amplitude must not be negative", mw, k, t.ID)
					}
				}
			}
		}
	}
	for i, f := range p.Faults {
		if f.AtRaw == "" {
			add("faults[%d] (%s): missing at: give an offset like \"2h\" or an RFC 3339 time", i, f.Kind)
		} else if _, _, err := parseAt(f.AtRaw); err != nil {
			add("faults[%d] (%s): %v", i, f.Kind, err)
		}
		if err := f.Fault.validateShape(); err != nil {
			add("faults[%d]: %v", i, err)
		}
	}
	return errors.Join(errs...)
}

// parseAt returns either an absolute time or an offset from start.
func parseAt(s string) (abs time.Time, off time.Duration, err error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), 0, nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil || d < 0 {
		return time.Time{}, 0, fmt.Errorf("bad at %q: use an offset from start like \"2h\" or an RFC 3339 time", s)
	}
	return time.Time{}, d, nil
}

func modelNames() []string {
	return sortedKeys(modelParams)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// param returns the line's parameter k, falling back to the model default.
func (l *LineSpec) param(k string) float64 {
	if v, ok := l.Params[k]; ok {
		return v
	}
	v, ok := modelParams[l.Model][k]
	if !ok {
		panic("simulator: undeclared param " + k) // programming error: every model param is declared above
	}
	return v
}

func (l *LineSpec) batchLength() time.Duration {
	if l.BatchLength > 0 {
		return time.Duration(l.BatchLength)
	}
	if d, ok := defaultBatchLength[l.Model]; ok {
		return d
	}
	return 8 * time.Hour
}

func (l *LineSpec) batchPrefix() string {
	if l.BatchPrefix != "" {
		return l.BatchPrefix
	}
	return strings.ToUpper(l.ID)
}

// Summary lists "line.machine" pairs with the number of tags, for the CLI table.
type MachineSummary struct {
	Line, Model, Machine string
	Tags                 []string
}

// Machines returns one summary row per machine, in plant order.
func (p *Plant) Machines() []MachineSummary {
	var out []MachineSummary
	for i := range p.Lines {
		l := &p.Lines[i]
		for _, m := range machinesOf(l) {
			out = append(out, MachineSummary{Line: l.ID, Model: l.Model, Machine: m.name, Tags: slices.Clone(m.tags)})
		}
	}
	return out
}
