package influxd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Version is the InfluxDB release linewatch runs and tests against.
const Version = "v1.8.10"

const module = "github.com/influxdata/influxdb/cmd/influxd@" + Version

// CacheDir is where influxd is installed: $LINEWATCH_CACHE, else the user
// cache dir (~/.cache/linewatch).
func CacheDir() (string, error) {
	if d := os.Getenv("LINEWATCH_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("influxd: no cache dir (set LINEWATCH_CACHE): %w", err)
	}
	return filepath.Join(d, "linewatch"), nil
}

// Install returns the path of influxd, building it with `go install` into
// the cache on first use. Concurrent callers (parallel test binaries) are
// serialised with a file lock so the build runs once.
func Install(ctx context.Context) (string, error) {
	if p := os.Getenv("LINEWATCH_INFLUXD"); p != "" {
		return p, nil
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "influxd-"+Version)
	path := filepath.Join(bin, "influxd")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("influxd: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, "influxd.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("influxd: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("influxd: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(path); err == nil {
		return path, nil // built by another process while we waited
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("influxd: Go toolchain not found on PATH; it is needed once to build InfluxDB %s: %w", Version, err)
	}
	cmd := exec.CommandContext(ctx, goBin, "install", module)
	cmd.Dir = cache
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-mod=mod", "GO111MODULE=on", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("influxd: go install %s failed: %w\n%s", module, err, out)
	}
	return path, nil
}
