package edkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/linewatch/linewatch/internal/atomicfile"
)

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// PublicFile is where Generate writes the public key of privPath.
func PublicFile(privPath string) string { return privPath + ".pub" }

// Generate creates a key pair: the private key at privPath (mode 0600,
// never overwritten; the directory is created with mode 0700) and the
// public key at PublicFile(privPath). Each file appears whole or not at
// all: it is written and synced aside in the same directory, then
// published under its name. When privPath exists (another process made
// it first), the error wraps fs.ErrExist.
func Generate(privPath string) (ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate Ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	dir := filepath.Dir(privPath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	// Created, never replaced: of processes generating at once, one key
	// wins and no process keeps using a key another one replaced.
	if err := atomicfile.Create(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("key %s already exists: keep it (what it signed verifies only with its public key) or move it away first: %w", privPath, err)
		}
		return nil, fmt.Errorf("create key %s: %w", privPath, err)
	}
	if err := writePublic(privPath, pub); err != nil {
		return nil, err
	}
	return priv, nil
}

// writePublic writes the public key file of privPath whole (written
// aside and renamed: its content follows from the private key, so the
// last of several writers changes nothing).
func writePublic(privPath string, pub ed25519.PublicKey) error {
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("encode public key: %w", err)
	}
	if err := atomicfile.Write(PublicFile(privPath), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	return nil
}

// LoadPrivate reads a private key, refusing one that group or others can
// read.
func LoadPrivate(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("private key %s has mode %v: others can read it; run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	k, err := ParsePrivate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadOrGenerate reads the key at path, creating it when it does not
// exist. Processes (and goroutines) that call it at once on a fresh
// path all get the same key: one creates it, the others load it. A
// missing public key file (its writer died before writing it) is
// written again.
func LoadOrGenerate(path string) (ed25519.PrivateKey, error) {
	k, err := LoadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = Generate(path)
		if !errors.Is(err, fs.ErrExist) {
			return k, err
		}
		k, err = LoadPrivate(path) // another process created it first
	}
	if err != nil {
		return nil, err
	}
	if _, perr := os.Stat(PublicFile(path)); errors.Is(perr, fs.ErrNotExist) {
		if err := writePublic(path, k.Public().(ed25519.PublicKey)); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// ParsePrivate decodes a PKCS#8 PEM Ed25519 private key.
func ParsePrivate(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("private key: not a PEM \"PRIVATE KEY\" block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %T is not an Ed25519 key", k)
	}
	return priv, nil
}

// LoadPublic reads a PKIX PEM Ed25519 public key.
func LoadPublic(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParsePublic decodes a PKIX PEM Ed25519 public key.
func ParsePublic(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("public key: not a PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key: %T is not an Ed25519 key", k)
	}
	return pub, nil
}

// Keyring is a set of trusted public keys by KeyID.
type Keyring map[string]ed25519.PublicKey

// Add trusts pub.
func (k Keyring) Add(pub ed25519.PublicKey) { k[KeyID(pub)] = pub }

// LoadKeyring reads public key files.
func LoadKeyring(files ...string) (Keyring, error) {
	k := Keyring{}
	for _, f := range files {
		pub, err := LoadPublic(f)
		if err != nil {
			return nil, err
		}
		k.Add(pub)
	}
	return k, nil
}
