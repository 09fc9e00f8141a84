package app

import (
	"fmt"
	"strings"
)

// Roles selects what one process runs; several processes with different
// roles share one NATS cluster and InfluxDB.
type Roles struct {
	Collector bool
	Analytics bool
	Alerts    bool
	Console   bool
}

// AllRoles runs everything in one process.
var AllRoles = Roles{Collector: true, Analytics: true, Alerts: true, Console: true}

// ParseRoles reads "collector,analytics,alerts,console" (or "all").
func ParseRoles(s string) (Roles, error) {
	var r Roles
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case "all":
			r = AllRoles
		case "collector":
			r.Collector = true
		case "analytics":
			r.Analytics = true
		case "alerts":
			r.Alerts = true
		case "console":
			r.Console = true
		case "":
		default:
			return Roles{}, fmt.Errorf("unknown role %q: want collector, analytics, alerts, console or all", p)
		}
	}
	if r == (Roles{}) {
		return Roles{}, fmt.Errorf("no role given: want collector, analytics, alerts, console or all")
	}
	return r, nil
}

func (r Roles) String() string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{r.Collector, "collector"}, {r.Analytics, "analytics"}, {r.Alerts, "alerts"}, {r.Console, "console"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return strings.Join(out, ",")
}
