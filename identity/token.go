package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TokenVersion versions the token format ("lw1.<claims>.<signature>").
const TokenVersion = 1

const tokenPrefix = "lw1."

// Claims are what a token says. The signature covers them; Key is the
// requester's public key (proof of possession): a token is useless to
// whoever reads it off the bus without the private key that signs each
// request.
type Claims struct {
	V        int       `json:"v"`
	User     string    `json:"sub"`
	IssuedAt time.Time `json:"iat"`
	Expires  time.Time `json:"exp"`
	// AuthTime is when the password was checked; refreshes keep it, so a
	// session ends SessionMax after the login whatever the refreshes.
	AuthTime time.Time `json:"auth_time"`
	ID       string    `json:"jti"`
	// Issuer is the id of the signing key (KeyID).
	Issuer string `json:"kid"`
	// Key is the requester's Ed25519 public key, base64url.
	Key string `json:"cnf"`
	// Password fingerprints the user's password hash at login: a token
	// ends when the password is changed.
	Password string `json:"pwf"`
}

// Signer issues tokens with the service's Ed25519 key.
type Signer struct {
	priv ed25519.PrivateKey
	id   string
}

// KeyID names a public key: the first 16 bytes of its SHA-256, base64url.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(s[:16])
}

// LoadOrCreateSigner reads the token-signing key at path (PKCS #8 PEM),
// or creates it (file 0600 in a 0700 directory) when it does not exist.
// A key file readable by other users is refused: whoever reads it can
// act as anyone.
func LoadOrCreateSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return createSigner(path)
	}
	if err != nil {
		return nil, fmt.Errorf("token key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("token key %s is readable by other users (mode %s); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("token key %s: not a PEM \"PRIVATE KEY\" block; remove it to have a new key made (everyone logs in again)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("token key %s: %T is not an Ed25519 key", path, k)
	}
	return NewSigner(priv), nil
}

func createSigner(path string) (*Signer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("token key directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process made it first
		return LoadOrCreateSigner(path)
	}
	if err != nil {
		return nil, fmt.Errorf("token key %s: %w", path, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("token key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("token key %s: %w", path, err)
	}
	return NewSigner(priv), nil
}

// NewSigner wraps a private key.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	return &Signer{priv: priv, id: KeyID(priv.Public().(ed25519.PublicKey))}
}

// KeyID is the id of the signer's public key (Claims.Issuer).
func (s *Signer) KeyID() string { return s.id }

// PublicKey is the key that verifies the signer's tokens.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Sign returns the token for c (Issuer and V are set here).
func (s *Signer) Sign(c Claims) string {
	c.V, c.Issuer = TokenVersion, s.id
	body, _ := json.Marshal(c)
	signed := tokenPrefix + base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(s.priv, []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// MaxTokenSize bounds a token.
const MaxTokenSize = 2048

// ParseToken splits a token and decodes its claims WITHOUT checking the
// signature; use the claims only to find the verifying key or to name the
// claimed user in a refusal.
func ParseToken(tok string) (c Claims, signed, sig []byte, err error) {
	if len(tok) > MaxTokenSize {
		return c, nil, nil, fmt.Errorf("token is %d bytes, more than %d", len(tok), MaxTokenSize)
	}
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	i := strings.IndexByte(rest, '.')
	if !ok || i < 0 {
		return c, nil, nil, errors.New("not a linewatch token (want lw1.<claims>.<signature>; log in again)")
	}
	body, err := base64.RawURLEncoding.DecodeString(rest[:i])
	if err != nil {
		return c, nil, nil, fmt.Errorf("token claims: %w", err)
	}
	sig, err = base64.RawURLEncoding.DecodeString(rest[i+1:])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return c, nil, nil, errors.New("token signature is not a base64url Ed25519 signature")
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return Claims{}, nil, nil, fmt.Errorf("token claims: %w", err)
	}
	if c.V != TokenVersion {
		return Claims{}, nil, nil, fmt.Errorf("token version %d, this service speaks %d; log in again", c.V, TokenVersion)
	}
	return c, []byte(tokenPrefix + rest[:i]), sig, nil
}

// RequestKey is the requester's key pair: the public half goes into the
// token at login, the private half signs each request.
type RequestKey struct{ priv ed25519.PrivateKey }

// NewRequestKey makes a fresh key pair (one per login).
func NewRequestKey() RequestKey {
	_, priv, _ := ed25519.GenerateKey(rand.Reader) // crypto/rand does not fail
	return RequestKey{priv: priv}
}

// ParseRequestKey reads a key written by String.
func ParseRequestKey(s string) (RequestKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.SeedSize {
		return RequestKey{}, errors.New("request key is not a base64url Ed25519 seed; log in again")
	}
	return RequestKey{priv: ed25519.NewKeyFromSeed(b)}, nil
}

// String is the private seed, base64url (keep it secret, like the token).
func (k RequestKey) String() string { return base64.RawURLEncoding.EncodeToString(k.priv.Seed()) }

// Public is the public half, base64url, for the login request.
func (k RequestKey) Public() string {
	return base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey))
}

// Proof signs one request: action names what is asked ("alarm.ack"),
// fields are its parameters in a fixed order. The nonce makes each proof
// unique; the service remembers used ones until the token expires.
func (k RequestKey) Proof(token, action string, fields ...string) (nonce, proof string) {
	nonce = randomID()
	sig := ed25519.Sign(k.priv, ProofBytes(token, nonce, action, fields...))
	return nonce, base64.RawURLEncoding.EncodeToString(sig)
}

// ProofBytes is what a request proof signs: every part length-prefixed,
// so no two different requests encode the same.
func ProofBytes(token, nonce, action string, fields ...string) []byte {
	var b strings.Builder
	for _, s := range append([]string{"linewatch-request-v1", token, nonce, action}, fields...) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func randomID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
