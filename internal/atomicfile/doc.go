// Package atomicfile writes files that appear whole or not at all: the
// data is written and synced to a hidden temporary file in the target's
// directory, then published under its name — by rename (Write: replaces
// what was there) or by hard link (Create: fails when the name exists,
// so of several processes creating one file at once exactly one wins).
// Keys, models, reports and dashboards are read by other processes
// (Grafana polls its folder; roles start together), which must never see
// half a file.
package atomicfile
