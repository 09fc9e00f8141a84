package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// NATSServerModule is the module the nats-server binary is built from:
// the version go.mod requires, so the cluster runs the server the
// embedded one is.
const NATSServerModule = "github.com/nats-io/nats-server/v2"

// ModuleRoot is the directory of linewatch's go.mod (found with `go env
// GOMOD` from the working directory, which must be inside the module).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	p := strings.TrimSpace(string(out))
	if p == "" || p == os.DevNull {
		return "", fmt.Errorf("not inside the linewatch module (go env GOMOD is empty): run from the repository")
	}
	return filepath.Dir(p), nil
}

// NATSServerBinary builds nats-server from the required module version
// once per version and returns its path: <user cache>/linewatch/nats-server-<version>/nats-server
// (or under the temp dir when there is no user cache). The build writes a
// temporary file and renames it, so test processes that build at once do
// not see half a binary.
func NATSServerBinary(ctx context.Context) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", NATSServerModule)
	cmd.Dir = root
	v, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", NATSServerModule, err)
	}
	version := strings.TrimSpace(string(v))
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "linewatch", "nats-server-"+version)
	bin := filepath.Join(dir, "nats-server")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "nats-server-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := goBuild(ctx, root, tmp.Name(), NATSServerModule); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	return bin, nil
}

var (
	lwOnce sync.Once
	lwPath string
	lwErr  error
)

// LinewatchBinary builds ./cmd/linewatch of the working tree once per
// process and returns its path: <dir>/<module root's base name>-<hash of
// its path>/linewatch (dir is the first caller's). The directory per
// module root keeps two checkouts (worktrees) that test at once from
// running each other's build: with one shared path, the last to build
// replaced the binary the other's processes started from.
func LinewatchBinary(ctx context.Context, dir string) (string, error) {
	lwOnce.Do(func() {
		root, err := ModuleRoot(ctx)
		if err != nil {
			lwErr = err
			return
		}
		sub := binDir(dir, root)
		if lwErr = os.MkdirAll(sub, 0o755); lwErr != nil {
			return
		}
		lwPath = filepath.Join(sub, "linewatch")
		// Built aside and renamed: another test run of this checkout may
		// be executing the previous binary at that path.
		tmp := fmt.Sprintf("%s.%d.tmp", lwPath, os.Getpid())
		defer os.Remove(tmp)
		if lwErr = goBuild(ctx, root, tmp, "./cmd/linewatch"); lwErr == nil {
			lwErr = os.Rename(tmp, lwPath)
		}
	})
	return lwPath, lwErr
}

// binDir is the build directory of module root under dir: readable (the
// root's base name) and unique (a hash of its absolute path).
func binDir(dir, root string) string {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	h := sha256.Sum256([]byte(filepath.Clean(root)))
	return filepath.Join(dir, filepath.Base(root)+"-"+hex.EncodeToString(h[:6]))
}

func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
