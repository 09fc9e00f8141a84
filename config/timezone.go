package config

import (
	"fmt"
	"strings"
	"time"

	// The zone database is embedded so time_zone works on a machine (or
	// container) without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Location is the site time zone (time_zone; UTC when unset).
func (c *Config) Location() (*time.Location, error) {
	name := c.TimeZone
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	// time.LoadLocation also reads a path relative to ZONEINFO; a zone
	// name never holds "..", a leading "/" or a backslash.
	if strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") || name == "Local" {
		return nil, fmt.Errorf("time zone %q is not an IANA zone name", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}
