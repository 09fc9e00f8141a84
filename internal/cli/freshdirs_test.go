package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/reports"
)

// TestKeysGenerateFreshInstall: on a fresh install data_dir does not exist
// yet; `keys generate` creates data_dir/keys with mode 0700 and a key
// that loads.
func TestKeysGenerateFreshInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh", "linewatch-data")
	cfgFile := filepath.Join(t.TempDir(), "linewatch.yaml")
	yaml := strings.Replace(string(config.DemoYAML), "data_dir: linewatch-data", "data_dir: "+dir, 1)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "keys", "generate", "-c", cfgFile)
	if code != 0 {
		t.Fatalf("keys generate: exit %d: %s", code, out)
	}
	keyDir := filepath.Join(dir, "keys")
	st, err := os.Stat(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("%s mode %v, want 0700", keyDir, st.Mode().Perm())
	}
	key := filepath.Join(keyDir, "report-signing.key")
	if !strings.Contains(out, key) {
		t.Errorf("output does not name the key %s:\n%s", key, out)
	}
	if _, err := reports.LoadPrivateKey(key); err != nil {
		t.Errorf("generated key does not load: %v", err)
	}
	// A second run refuses to overwrite it.
	if out, code := runCLI(t, "keys", "generate", "-c", cfgFile); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("second keys generate: exit %d: %s", code, out)
	}
}

// TestConsoleAddUserFreshDir: the users file's directory is created (0700).
func TestConsoleAddUserFreshDir(t *testing.T) {
	users := filepath.Join(t.TempDir(), "linewatch-data", "console", "users")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "console", "adduser", "alice", "--role", "operator", "--users-file", users, "--password-file", pw)
	if code != 0 {
		t.Fatalf("console adduser: exit %d: %s", code, out)
	}
	st, err := os.Stat(filepath.Dir(users))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("users directory mode %v, want 0700", st.Mode().Perm())
	}
	b, err := os.ReadFile(users)
	if err != nil || !strings.HasPrefix(string(b), "alice:") {
		t.Errorf("users file %q, %v", b, err)
	}
}

// TestReportOutputFreshDir: `report batch|sign -o` into a directory that
// does not exist yet (e.g. data_dir/reports on a fresh install) creates it.
func TestReportOutputFreshDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "linewatch-data", "reports", "F1-0001.pdf")
	if err := writeFileAtomic(path, []byte("%PDF-1.7\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "%PDF-1.7\n" {
		t.Errorf("read back %q, %v", b, err)
	}
}
