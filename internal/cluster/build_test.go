package cluster

import (
	"path/filepath"
	"testing"
)

// Two checkouts of linewatch (worktrees, both named like their branch or
// both "linewatch") build into directories of their own under the shared
// cache dir, and one checkout always into the same one.
func TestBinDirPerModuleRoot(t *testing.T) {
	cache := t.TempDir()
	a := binDir(cache, "/work/wt/alerts")
	b := binDir(cache, "/work/wt2/alerts") // same base name, another checkout
	c := binDir(cache, "/work/main")
	if a == b || a == c || b == c {
		t.Fatalf("checkouts share a build directory: %q %q %q", a, b, c)
	}
	for _, d := range []string{a, b, c} {
		if filepath.Dir(d) != cache {
			t.Errorf("%q is not directly under the cache dir %q", d, cache)
		}
	}
	if again := binDir(cache, "/work/wt/alerts/"); again != a {
		t.Errorf("the same root gives %q, then %q", a, again)
	}
	if filepath.Base(a)[:len("alerts-")] != "alerts-" {
		t.Errorf("%q does not start with the root's base name", filepath.Base(a))
	}
}
