package alerts

import (
	"slices"
	"strings"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/config"
)

// AlarmID is the stable alarm id of a finding: site/line/machine/tag/detector[/rule].
func AlarmID(site string, f analytics.Finding) string {
	if f.Site != "" {
		site = f.Site
	}
	return site + "/" + f.Key()
}

// PriorityOf chooses the priority of a finding's alarm: the tag's
// alarm.priority, else the first alarms.priorities rule whose every given
// field matches, else alarms.default_priority. Rule tags are
// line/machine/tag patterns ("*" matches one segment) or bare tag names.
func PriorityOf(cfg *config.Config, f analytics.Finding) Priority {
	if ref, ok := cfg.Tag(f.Line, f.Machine, f.Tag); ok && ref.Tag.Alarm.Priority != "" {
		return Priority(ref.Tag.Alarm.Priority)
	}
	for _, r := range cfg.Alarms.Priorities {
		if len(r.Lines) > 0 && !slices.Contains(r.Lines, f.Line) {
			continue
		}
		if len(r.Detectors) > 0 && !slices.Contains(r.Detectors, f.Detector) {
			continue
		}
		if len(r.Tags) > 0 && !slices.ContainsFunc(r.Tags, func(p string) bool { return tagMatches(p, f) }) {
			continue
		}
		return Priority(r.Priority)
	}
	if cfg.Alarms.DefaultPriority != "" {
		return Priority(cfg.Alarms.DefaultPriority)
	}
	return Medium
}

func tagMatches(pattern string, f analytics.Finding) bool {
	parts := strings.Split(pattern, "/")
	seg := func(p, s string) bool { return p == "*" || p == s }
	switch len(parts) {
	case 1:
		return seg(parts[0], f.Tag)
	case 3:
		return seg(parts[0], f.Line) && seg(parts[1], f.Machine) && seg(parts[2], f.Tag)
	}
	return false
}

// latching says whether the tag's alarms latch (tag alarm.latched).
func latching(cfg *config.Config, f analytics.Finding) bool {
	ref, ok := cfg.Tag(f.Line, f.Machine, f.Tag)
	return ok && ref.Tag.Alarm.Latched != nil && *ref.Tag.Alarm.Latched
}

// NewAlarm is the alarm a finding creates, in state normal.
func NewAlarm(cfg *config.Config, f analytics.Finding) Alarm {
	site := cfg.Site
	if f.Site != "" {
		site = f.Site
	}
	return Alarm{
		ID: AlarmID(cfg.Site, f), Site: site, Line: f.Line, Machine: f.Machine, Tag: f.Tag,
		Detector: f.Detector, Rule: f.Rule, Priority: PriorityOf(cfg, f), State: Normal,
		Latching: latching(cfg, f), Message: f.Message,
	}
}

// PolicyFrom derives the state-machine policy from the config. Supervisors
// may shelve for up to three times alarms.shelve_max.
func PolicyFrom(a config.Alarms) Policy {
	return Policy{
		ShelveMax: a.ShelveMax, SupervisorShelveMax: 3 * a.ShelveMax,
		ChatterCount: a.Chatter.Count, ChatterWindow: a.Chatter.Window,
	}
}
