package dashboards

import (
	"strings"

	"github.com/linewatch/linewatch/config"
)

// grafanaUnits maps engineering units as written in the config to Grafana's
// unit ids, so a plant engineer does not have to pick them by hand.
var grafanaUnits = map[string]string{
	"°c": "celsius", "degc": "celsius", "c": "celsius",
	"°f": "fahrenheit", "degf": "fahrenheit",
	"k":   "kelvin",
	"%rh": "humidity", "rh": "humidity",
	"%": "percent",
	"g": "massg", "mg": "massmg", "kg": "masskg", "t": "masst",
	"n": "forceN", "kn": "forcekN", "nm": "forceNm", "knm": "forcekNm",
	"mm": "lengthmm", "m": "lengthm", "km": "lengthkm", "µm": "µm",
	"rpm": "rotrpm", "hz": "rothz",
	"pa": "pressurepa", "hpa": "pressurehpa", "kpa": "pressurekpa", "mbar": "pressurembar", "bar": "pressurebar", "psi": "pressurepsi",
	"ml": "mlitre", "l": "litre", "m³": "m3", "m3": "m3",
	"w": "watt", "kw": "kwatt", "v": "volt", "a": "amp", "kwh": "kwatth",
	"s": "s", "ms": "ms", "min": "m", "h": "h",
	"count": "none", "pcs": "none",
}

// unitFor returns Grafana's unit for a config unit; unknown units are shown
// verbatim as a suffix rather than dropped.
func unitFor(u string) string {
	u = strings.TrimSpace(u)
	if u == "" {
		return "none"
	}
	if g, ok := grafanaUnits[strings.ToLower(u)]; ok {
		if g == "µm" {
			return "suffix: µm"
		}
		return g
	}
	return "suffix: " + u
}

// Tag roles by how their values are stored and drawn.
func isTextRole(role string) bool {
	switch role {
	case "batch_id", "product_code", "machine_state", "phase":
		return true
	}
	return false
}

func isBoolRole(role string) bool { return role == "door" || role == "running" }

func isCounterRole(role string) bool { return role == "good_count" || role == "reject_count" }

func isNumeric(t *config.Tag) bool { return !isTextRole(t.Role) && !isBoolRole(t.Role) }
