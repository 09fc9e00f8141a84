// Package config is linewatch's typed configuration: one YAML file describes
// the site, InfluxDB, NATS, the lines with their machines, OPC UA endpoints and
// tags, the analytics rules, alarm handling, the operator console and reports.
//
// Loading is strict: unknown keys are errors (with a "did you mean"), values
// are checked against what is allowed, and Load reports every problem in one
// run, each with file:line:column, the field path and the bad value. Defaults
// live in one place (defaults.go). Secrets are never inline: every password,
// token or key is referenced by a *_env (environment variable) or *_file key
// and resolved only when a connection is made (see Secret).
//
// docs/configuration.md documents every key with its default.
package config
