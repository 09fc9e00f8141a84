// Package buildinfo reports the linewatch version, set at link time with
// -ldflags "-X github.com/linewatch/linewatch/internal/buildinfo.Version=…",
// falling back to the module version recorded by the Go toolchain.
package buildinfo

import "runtime/debug"

// Version is overridden at link time for releases.
var Version = ""

// String returns the version, or "devel" when none is known.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
