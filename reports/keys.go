package reports

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io/fs"

	"github.com/linewatch/linewatch/internal/edkey"
)

func newSHA() hash.Hash { return sha256.New() }

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string { return edkey.KeyID(pub) }

// PublicKeyFile is where GenerateKey writes the public key of privPath.
func PublicKeyFile(privPath string) string { return edkey.PublicFile(privPath) }

// GenerateKey creates an Ed25519 report signing key: the private key as
// PKCS#8 PEM with mode 0600 at privPath (never overwritten) and the public
// key as PKIX PEM at PublicKeyFile(privPath).
func GenerateKey(privPath string) (ed25519.PublicKey, error) {
	if privPath == "" {
		return nil, errors.New("reports.signing_key_file is not set: set it in the config to where the key should live")
	}
	priv, err := edkey.Generate(privPath)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return priv.Public().(ed25519.PublicKey), nil
}

// LoadPrivateKey reads the signing key, refusing one that group or others
// can read.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, errors.New("reports.signing_key_file is not set: run `linewatch keys generate -c CONFIG` after setting it")
	}
	k, err := edkey.LoadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("signing key: %w (create one with `linewatch keys generate`)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return k, nil
}

// ParsePrivateKey decodes a PKCS#8 PEM Ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) { return edkey.ParsePrivate(data) }

// LoadPublicKey reads a PKIX PEM Ed25519 public key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) { return edkey.LoadPublic(path) }

// ParsePublicKey decodes a PKIX PEM Ed25519 public key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) { return edkey.ParsePublic(data) }
