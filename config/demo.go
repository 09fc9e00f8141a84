package config

import _ "embed"

// DemoYAML is the built-in configuration for the simulated plant, used by
// `linewatch demo` and `make demo` when no file is given.
//
//go:embed demo.yaml
var DemoYAML []byte

// Demo parses the built-in demo configuration.
func Demo() (*Config, error) { return Parse(DemoYAML, "demo.yaml (built in)") }
