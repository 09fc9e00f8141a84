package config

import (
	"fmt"
	"net/url"
	"slices"
	"time"
)

func (v *validator) alarms() {
	a := v.c.Alarms
	v.oneOf("alarms.default_priority", a.DefaultPriority, Priorities)
	if a.OnDelay < 0 || a.OffDelay < 0 {
		v.errf("alarms", "", "on_delay and off_delay must be ≥ 0")
	}
	v.minDur("alarms.shelve_max", a.ShelveMax, time.Minute)
	v.minDur("alarms.retention", a.Retention, time.Hour)
	for i, p := range a.Priorities {
		pp := fmt.Sprintf("alarms.priorities[%d]", i)
		v.oneOf(pp+".priority", p.Priority, Priorities)
		v.knownLines(pp+".lines", p.Lines)
	}
	if a.Flood.Threshold < 1 {
		v.errf("alarms.flood.threshold", fmt.Sprint(a.Flood.Threshold), "must be ≥ 1")
	}
	if a.Flood.EndBelow > a.Flood.Threshold {
		v.errf("alarms.flood.end_below", fmt.Sprint(a.Flood.EndBelow), "must be ≤ threshold (%d)", a.Flood.Threshold)
	}
	v.minDur("alarms.flood.window", a.Flood.Window, time.Second)
	if a.Chatter.Count < 2 {
		v.errf("alarms.chatter.count", fmt.Sprint(a.Chatter.Count), "must be ≥ 2")
	}
	v.minDur("alarms.chatter.window", a.Chatter.Window, time.Second)
	for i, r := range a.Routes {
		rp := fmt.Sprintf("alarms.routes[%d]", i)
		v.knownLines(rp+".lines", r.Lines)
		for j, p := range r.Priorities {
			v.oneOf(fmt.Sprintf("%s.priorities[%d]", rp, j), p, Priorities)
		}
		if r.Webhook == nil && r.Email == nil {
			v.errf(rp, "", "a route needs a webhook or an email receiver")
		}
		if w := r.Webhook; w != nil {
			u, err := url.Parse(w.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.errf(rp+".webhook.url", w.URL, "expected http:// or https:// URL")
			}
			v.secret(rp+".webhook", "secret", w.Secret(), false)
		}
		if e := r.Email; e != nil {
			v.hostPort(rp+".email.smtp", e.SMTP)
			if e.From == "" {
				v.errf(rp+".email.from", "", "required")
			}
			if len(e.To) == 0 {
				v.errf(rp+".email.to", "", "at least one recipient required")
			}
			if e.Username != "" {
				v.secret(rp+".email", "password", e.Password(), true)
			}
		}
		if r.EscalateAfter < 0 {
			v.errf(rp+".escalate_after", r.EscalateAfter.String(), "must be ≥ 0")
		}
	}
	for _, s := range a.SuppressWhenState {
		if s == "" {
			v.errf("alarms.suppress_when_state", "", "empty state name")
		}
	}
}

func (v *validator) knownLines(path string, ids []string) {
	for i, id := range ids {
		if v.c.line(id) == nil {
			var all []string
			for _, l := range v.c.Lines {
				all = append(all, l.ID)
			}
			if !slices.Contains(all, id) {
				v.errf(fmt.Sprintf("%s[%d]", path, i), id, "no such line%s", didYouMean(id, all))
			}
		}
	}
}

// storageLocations checks reports.storage_locations: unique ids, tags that
// exist (a pattern must match at least one tag), known lines.
func (v *validator) storageLocations() {
	seen := map[string]bool{}
	for i, l := range v.c.Reports.StorageLocations {
		p := fmt.Sprintf("reports.storage_locations[%d]", i)
		v.id(p+".id", l.ID)
		if seen[l.ID] {
			v.errf(p+".id", l.ID, "duplicate storage location id")
		}
		seen[l.ID] = true
		if len(l.Tags) == 0 {
			v.errf(p+".tags", "", "list the location's temperature probes (line/machine/tag)")
		}
		for j, t := range l.Tags {
			if len(v.c.MatchTags(t)) == 0 {
				v.errf(fmt.Sprintf("%s.tags[%d]", p, j), t, "matches no tag of the config (line/machine/tag, * allowed)")
			}
		}
		v.knownLines(p+".lines", l.Lines)
		if l.Hold < 0 {
			v.errf(p+".hold", l.Hold.String(), "must be ≥ 0")
		}
	}
}
