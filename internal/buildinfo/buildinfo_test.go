package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestString(t *testing.T) {
	defer func(v, c string, rb func() (*debug.BuildInfo, bool)) { Version, commit, readBuildInfo = v, c, rb }(Version, commit, readBuildInfo)
	vcs := func(main string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: main}, Settings: settings}, true
		}
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "0e24c2d8a1b3c4d5e6f708192a3b4c5d6e7f8091"}
	for _, c := range []struct {
		name, version, commit string
		bi                    func() (*debug.BuildInfo, bool)
		want                  string
	}{
		{"ldflags commit", "", "0e24c2d8a1b3", vcs("(devel)"), "0e24c2d8a1b3"},
		{"ldflags version and commit", "v1.2.0", "0e24c2d8a1b3", vcs("(devel)"), "v1.2.0 (commit 0e24c2d8a1b3)"},
		{"vcs stamp", "", "", vcs("(devel)", rev, debug.BuildSetting{Key: "vcs.modified", Value: "false"}), "0e24c2d8a1b3"},
		{"vcs stamp, dirty tree", "", "", vcs("(devel)", rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), "0e24c2d8a1b3-dirty"},
		{"module version holding the commit", "", "", vcs("v0.0.0-20261205075600-0e24c2d8a1b3", rev), "v0.0.0-20261205075600-0e24c2d8a1b3"},
		{"nothing recorded", "", "", vcs("(devel)"), "devel"},
	} {
		Version, commit, readBuildInfo = c.version, c.commit, c.bi
		if got := String(); got != c.want {
			t.Errorf("%s: String() = %q, want %q", c.name, got, c.want)
		}
	}
}
