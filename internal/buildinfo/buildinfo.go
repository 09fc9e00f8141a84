// Package buildinfo reports the linewatch version: the release version and
// the git commit it was built from. `make build` sets both with
//
//	-ldflags "-X github.com/linewatch/linewatch/internal/buildinfo.Version=…
//	          -X github.com/linewatch/linewatch/internal/buildinfo.commit=…"
//
// and a plain `go build` of a git checkout gets the commit from the Go
// toolchain's vcs stamping (debug.ReadBuildInfo: vcs.revision, vcs.modified).
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Version is the release version, set at link time for releases.
var Version = ""

// commit is the git commit, set at link time by `make build` (with a
// "-dirty" suffix when the work tree had changes).
var commit = ""

// readBuildInfo is debug.ReadBuildInfo (replaced in tests).
var readBuildInfo = debug.ReadBuildInfo

// String returns the version: "v1.2.0 (commit 0e24c2d8a1b3)",
// "0e24c2d8a1b3-dirty" for a development build, or "devel" when the build
// recorded neither (go run, go test, a build outside a git checkout).
func String() string {
	v, c := Version, Commit()
	if v == "" {
		if bi, ok := readBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	switch {
	case v != "" && c != "" && !strings.Contains(v, shortRev(c)):
		return v + " (commit " + c + ")"
	case v != "":
		return v
	case c != "":
		return c
	}
	return "devel"
}

// Commit returns the git commit of the build (12 hex digits, "-dirty"
// when built from a modified work tree), or "" when unknown.
func Commit() string {
	if commit != "" {
		return commit
	}
	bi, ok := readBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	rev = shortRev(rev)
	if modified {
		rev += "-dirty"
	}
	return rev
}

func shortRev(r string) string {
	r, _, _ = strings.Cut(r, "-")
	if len(r) > 12 {
		return r[:12]
	}
	return r
}
