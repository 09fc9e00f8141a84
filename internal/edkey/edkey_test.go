package edkey

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrGenerateAndKeyring(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "audit.key") // the directory does not exist yet
	k, err := LoadOrGenerate(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrGenerate(path)
	if err != nil || !again.Equal(k) {
		t.Fatalf("second start must load the same key: %v", err)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, want 0700", st.Mode().Perm())
	}
	ring, err := LoadKeyring(PublicFile(path))
	if err != nil || len(ring) != 1 || ring[KeyID(k.Public().(ed25519.PublicKey))] == nil {
		t.Fatalf("keyring: %v %v", ring, err)
	}
	os.Chmod(path, 0o640)
	if _, err := LoadOrGenerate(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable key: %v", err)
	}
	if _, err := LoadKeyring(path); err == nil || !strings.Contains(err.Error(), "PUBLIC KEY") {
		t.Errorf("a private key as trusted key: %v", err)
	}
}
