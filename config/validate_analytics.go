package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/internal/display/text"
)

func (v *validator) analytics() {
	a := v.c.Analytics
	v.id("analytics.consumer", a.Consumer)
	v.minDur("analytics.lag_alarm", a.LagAlarm, time.Second)
	if a.LeaseTTL < time.Second || a.LeaseTTL > time.Minute {
		v.errf("analytics.lease_ttl", a.LeaseTTL.String(), "must be 1s to 1m")
	}
	if a.LeaseRenew <= 0 || a.LeaseRenew > a.LeaseTTL/2 {
		v.errf("analytics.lease_renew", a.LeaseRenew.String(), "must be more than 0 and at most half of analytics.lease_ttl (%s)", a.LeaseTTL)
	}
	for ri, r := range a.Rules {
		rp := fmt.Sprintf("analytics.rules[%d]", ri)
		if len(r.Tags) == 0 {
			v.errf(rp+".tags", "", "at least one tag pattern (line/machine/tag, '*' for a whole segment) required")
		}
		var matched []TagRef
		for pi, p := range r.Tags {
			pp := fmt.Sprintf("%s.tags[%d]", rp, pi)
			if err := checkPattern(p); err != nil {
				v.errf(pp, p, "%v", err)
				continue
			}
			m := v.c.MatchTags(p)
			if len(m) == 0 {
				v.errf(pp, p, "matches no configured tag")
			}
			matched = append(matched, m...)
		}
		specs := r.Specs()
		if len(specs) == 0 {
			v.errf(rp, "", "no detector: add one of %s", strings.Join(detect.RuleKeys(), ", "))
		}
		for _, d := range specs {
			dp := rp + "." + d.Key
			v.problems(dp, d.Spec.Check())
			if tc, ok := d.Spec.(detect.TargetChecker); ok {
				for _, t := range matched {
					v.problems(dp, tc.CheckTarget(v.c.Target(t)))
				}
			}
		}
	}
	v.batchModels()
	for mi, m := range a.Models {
		mp := fmt.Sprintf("analytics.models[%d]", mi)
		v.id(mp+".name", m.Name)
		if m.File == "" {
			v.errf(mp+".file", "", "required: the model file written by `linewatch analytics train`")
		}
		line := v.c.line(m.Line)
		if line == nil {
			v.errf(mp+".line", m.Line, "no such line")
			continue
		}
		if len(m.Tags) < 2 {
			v.errf(mp+".tags", "", "a multivariate model needs at least two machine/tag entries")
		}
		for ti, t := range m.Tags {
			mach, tag, _ := strings.Cut(t, "/")
			if line.findTag(mach, tag) == nil {
				v.errf(fmt.Sprintf("%s.tags[%d]", mp, ti), t, "no such machine/tag in line %q", m.Line)
			}
		}
	}
}

func (v *validator) batchModels() {
	names := map[string]bool{}
	for mi, m := range v.c.Analytics.BatchModels {
		mp := fmt.Sprintf("analytics.batch_models[%d]", mi)
		v.id(mp+".name", m.Name)
		if names[m.Name] {
			v.errf(mp+".name", m.Name, "a second batch model of this name")
		}
		names[m.Name] = true
		if m.File == "" {
			v.errf(mp+".file", "", "required: the model file written by `linewatch analytics train-batch`")
		}
		line := v.c.line(m.Line)
		if line == nil {
			v.errf(mp+".line", m.Line, "no such line")
			continue
		}
		if len(m.Tags) == 0 {
			v.errf(mp+".tags", "", "at least one machine/tag to monitor")
		}
		seen := map[string]bool{}
		for ti, t := range m.Tags {
			mach, tag, _ := strings.Cut(t, "/")
			tp := fmt.Sprintf("%s.tags[%d]", mp, ti)
			switch {
			case line.findTag(mach, tag) == nil:
				v.errf(tp, t, "no such machine/tag in line %q", m.Line)
			case seen[t]:
				v.errf(tp, t, "listed twice")
			case t == m.PhaseTag:
				v.errf(tp, t, "is the phase tag: monitor numeric tags, the phase aligns them")
			}
			seen[t] = true
		}
		mach, tag, _ := strings.Cut(m.PhaseTag, "/")
		if m.PhaseTag == "" {
			v.errf(mp+".phase_tag", "", "required: machine/tag of the tag naming the running phase (role phase)")
		} else if line.findTag(mach, tag) == nil {
			v.errf(mp+".phase_tag", m.PhaseTag, "no such machine/tag in line %q", m.Line)
		}
	}
}

// problems reports a detector's problems at path, its key under the rule.
func (v *validator) problems(path string, ps []detect.Problem) {
	for _, p := range ps {
		fp := path
		if p.Field != "" {
			fp += "." + p.Field
		}
		if p.OneOf != nil {
			v.oneOf(fp, p.Value, p.OneOf)
			continue
		}
		v.errf(fp, p.Value, "%s", p.Allowed)
	}
}

// Target is what a rule's detector learns of the tag t: its validation
// here and the engine's build use the same.
func (c *Config) Target(t TagRef) detect.Target {
	line := &c.Lines[t.LineIndex]
	l, sp := t.Tag.Limits, t.Tag.Spec
	dec := text.DefaultDecimals
	if t.Tag.Decimals != nil {
		dec = *t.Tag.Decimals
	}
	loc, err := c.Location()
	if err != nil {
		loc = time.UTC // refused by Validate; messages still read
	}
	return detect.Target{
		Tag: t.String(), Machine: t.Line.ID + "/" + t.Machine.ID, Role: t.Tag.Role, Unit: t.Tag.Unit,
		Lo: l.Lo, Hi: l.Hi, LoLo: l.LoLo, HiHi: l.HiHi, LSL: sp.LSL, USL: sp.USL,
		HasTag: func(name string) bool { return line.findTag(t.Machine.ID, name) != nil },
		Value:  func(v float64) string { return text.Number(v, dec, t.Tag.Unit) },
		Time:   func(at time.Time) string { return text.Time(at, loc) },
	}
}

func checkPattern(p string) error {
	parts := strings.Split(p, "/")
	if len(parts) != 3 {
		return fmt.Errorf("expected line/machine/tag ('*' matches a whole segment)")
	}
	for _, s := range parts {
		if s != "*" && !idRe.MatchString(s) {
			return fmt.Errorf("segment %q is neither '*' nor a valid id", s)
		}
	}
	return nil
}
