package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

func (v *validator) lines() {
	if len(v.c.Lines) == 0 {
		v.errf("lines", "", "at least one line required")
	}
	lineIDs := map[string]bool{}
	for li, l := range v.c.Lines {
		lp := fmt.Sprintf("lines[%d]", li)
		v.id(lp+".id", l.ID)
		if lineIDs[l.ID] && l.ID != "" {
			v.errf(lp+".id", l.ID, "duplicate line id")
		}
		lineIDs[l.ID] = true
		if len(l.Machines) == 0 {
			v.errf(lp+".machines", "", "at least one machine required")
		}
		machineIDs := map[string]bool{}
		for mi, m := range l.Machines {
			mp := fmt.Sprintf("%s.machines[%d]", lp, mi)
			v.id(mp+".id", m.ID)
			if machineIDs[m.ID] && m.ID != "" {
				v.errf(mp+".id", m.ID, "duplicate machine id in line %q", l.ID)
			}
			machineIDs[m.ID] = true
			v.machine(mp, m)
		}
		if l.BatchTag != "" {
			mach, tag, ok := strings.Cut(l.BatchTag, "/")
			if !ok || l.findTag(mach, tag) == nil {
				v.errf(lp+".batch_tag", l.BatchTag, "must name a tag of this line as machine/tag")
			}
		}
	}
}

// findTag returns the tag machine/tag of the line, or nil.
func (l Line) findTag(machine, tag string) *Tag {
	for mi := range l.Machines {
		if l.Machines[mi].ID != machine {
			continue
		}
		for ti := range l.Machines[mi].Tags {
			if l.Machines[mi].Tags[ti].Name == tag {
				return &l.Machines[mi].Tags[ti]
			}
		}
	}
	return nil
}

func (v *validator) machine(mp string, m Machine) {
	if m.Endpoint == "" {
		v.errf(mp+".endpoint", "", "required: opc.tcp://host:port[/path]")
	} else if u, err := url.Parse(m.Endpoint); err != nil || u.Scheme != "opc.tcp" || u.Host == "" {
		v.errf(mp+".endpoint", m.Endpoint, "expected opc.tcp://host:port[/path]")
	} else if _, _, err := net.SplitHostPort(u.Host); err != nil {
		v.errf(mp+".endpoint", m.Endpoint, "expected opc.tcp://host:port[/path] (port missing)")
	}
	v.oneOf(mp+".security_policy", m.SecurityPolicy, SecurityPolicies)
	v.oneOf(mp+".security_mode", m.SecurityMode, SecurityModes)
	if (m.SecurityPolicy == "None") != (m.SecurityMode == "None") {
		v.errf(mp+".security_mode", m.SecurityMode, "security_policy %s and security_mode %s do not go together: None goes with None, a policy with Sign or SignAndEncrypt", m.SecurityPolicy, m.SecurityMode)
	}
	if (m.CertificateFile == "") != (m.PrivateKeyFile == "") {
		v.errf(mp+".certificate_file", m.CertificateFile, "certificate_file and private_key_file go together (leave both empty to use the collector's own certificate)")
	}
	v.oneOf(mp+".auth.type", m.Auth.Type, AuthTypes)
	switch m.Auth.Type {
	case "username":
		if m.Auth.Username == "" {
			v.errf(mp+".auth.username", "", "required for auth type username")
		}
		v.secret(mp+".auth", "password", m.Auth.Password(), true)
	case "certificate":
		if m.Auth.CertificateFile == "" || m.Auth.PrivateKeyFile == "" {
			v.errf(mp+".auth", "", "certificate_file and private_key_file required for auth type certificate")
		}
	}
	if m.MaxNodesPerRead < 0 {
		v.errf(mp+".max_nodes_per_read", fmt.Sprint(m.MaxNodesPerRead), "must be ≥ 0 (0 = read the server's limit)")
	}
	tags := map[string]bool{}
	for ti, t := range m.Tags {
		tp := fmt.Sprintf("%s.tags[%d]", mp, ti)
		v.id(tp+".name", t.Name)
		if tags[t.Name] && t.Name != "" {
			v.errf(tp+".name", t.Name, "duplicate tag name in machine %q", m.ID)
		}
		tags[t.Name] = true
		v.tag(tp, t)
	}
	if len(m.Tags) == 0 {
		v.errf(mp+".tags", "", "at least one tag required")
	}
	readBy := map[string]string{}
	use := func(path, group string, names []string) {
		if len(names) == 0 {
			v.errf(path+".tags", "", "at least one tag required")
		}
		for i, n := range names {
			if !tags[n] {
				v.errf(fmt.Sprintf("%s.tags[%d]", path, i), n, "no such tag in machine %q%s", m.ID, didYouMean(n, keys(tags)))
			} else if prev, dup := readBy[n]; dup {
				v.errf(fmt.Sprintf("%s.tags[%d]", path, i), n, "tag already read by %s", prev)
			}
			readBy[n] = group
		}
	}
	for gi, g := range m.PollGroups {
		gp := fmt.Sprintf("%s.poll_groups[%d]", mp, gi)
		v.minDur(gp+".interval", g.Interval, 10*time.Millisecond)
		use(gp, "poll group "+quote(g.Name, gi), g.Tags)
	}
	for si, s := range m.Subscriptions {
		sp := fmt.Sprintf("%s.subscriptions[%d]", mp, si)
		v.minDur(sp+".publishing_interval", s.PublishingInterval, 10*time.Millisecond)
		if s.SamplingInterval < 0 {
			v.errf(sp+".sampling_interval", s.SamplingInterval.String(), "must be ≥ 0")
		}
		v.oneOf(sp+".deadband.type", s.Deadband.Type, DeadbandTypes)
		if s.Deadband.Value < 0 || (s.Deadband.Type == "percent" && s.Deadband.Value > 100) {
			v.errf(sp+".deadband.value", fmt.Sprint(s.Deadband.Value), "must be ≥ 0 (percent: 0–100)")
		}
		use(sp, "subscription "+quote(s.Name, si), s.Tags)
	}
}

func quote(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("#%d", i)
	}
	return fmt.Sprintf("%q", name)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func didYouMean(got string, allowed []string) string {
	if s := suggest(got, allowed); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

func (v *validator) tag(tp string, t Tag) {
	if t.NodeID == "" {
		v.errf(tp+".node_id", "", "required, e.g. ns=2;s=Line1.Filler.FillWeight, ns=3;i=1001 or nsu=urn:plant;s=Temp")
	} else if err := CheckNodeID(t.NodeID); err != nil {
		v.errf(tp+".node_id", t.NodeID, "%v", err)
	}
	if t.Role != "" {
		v.oneOf(tp+".role", t.Role, TagRoles)
	}
	l := t.Limits
	order := []struct {
		name string
		v    *float64
	}{{"lolo", l.LoLo}, {"lo", l.Lo}, {"hi", l.Hi}, {"hihi", l.HiHi}}
	var prevName string
	var prev *float64
	for _, o := range order {
		if o.v == nil {
			continue
		}
		if prev != nil && *o.v < *prev {
			v.errf(tp+".limits."+o.name, fmt.Sprint(*o.v), "must be ≥ %s (%g): limits go lolo ≤ lo ≤ hi ≤ hihi", prevName, *prev)
		}
		prevName, prev = o.name, o.v
	}
	s := t.Spec
	if s.LSL != nil && s.USL != nil && *s.LSL >= *s.USL {
		v.errf(tp+".spec.usl", fmt.Sprint(*s.USL), "must be greater than lsl (%g)", *s.LSL)
	}
	if s.Target != nil && ((s.LSL != nil && *s.Target < *s.LSL) || (s.USL != nil && *s.Target > *s.USL)) {
		v.errf(tp+".spec.target", fmt.Sprint(*s.Target), "must lie between lsl and usl")
	}
	if t.Alarm.Priority != "" {
		v.oneOf(tp+".alarm.priority", t.Alarm.Priority, Priorities)
	}
	if t.Decimals != nil && (*t.Decimals < 0 || *t.Decimals > 10) {
		v.errf(tp+".decimals", fmt.Sprint(*t.Decimals), "must be 0–10")
	}
}
