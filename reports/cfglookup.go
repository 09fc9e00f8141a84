package reports

import (
	"time"

	"github.com/linewatch/linewatch/config"
)

// pollIntervals maps machine/tag of the line to its poll (or
// subscription sampling) interval.
func pollIntervals(cfg *config.Config, line string) map[string]time.Duration {
	out := map[string]time.Duration{}
	l := cfg.Line(line)
	if l == nil {
		return out
	}
	for _, m := range l.Machines {
		for _, g := range m.PollGroups {
			for _, t := range g.Tags {
				out[m.ID+"/"+t] = g.Interval
			}
		}
		for _, s := range m.Subscriptions {
			iv := s.SamplingInterval
			if iv <= 0 {
				iv = s.PublishingInterval
			}
			for _, t := range s.Tags {
				out[m.ID+"/"+t] = iv
			}
		}
	}
	return out
}

func ruleSelects(cfg *config.Config, rule config.Rule, t config.TagRef) bool {
	for _, pat := range rule.Tags {
		for _, m := range cfg.MatchTags(pat) {
			if m.String() == t.String() {
				return true
			}
		}
	}
	return false
}

func chartLimits(t *config.Tag) []Limit {
	out := []Limit{}
	for _, l := range t.NamedLimits() {
		out = append(out, Limit{Name: l.Name, Value: Num(l.Value)})
	}
	return out
}
