package reports

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/linewatch/linewatch/internal/edkey"
)

// The password travels encrypted to the signing service (NaCl sealed box,
// X25519): a client that can see the request subject learns nothing. The
// service's X25519 key is derived from its audit key and announced signed
// by it, so the CLI encrypts only to a service it trusts.

// SignKey is the service's announced encryption key.
type SignKey struct {
	X25519 string `json:"x25519"` // base64 public key
	KeyID  string `json:"key_id"` // the audit key that signed it
	Sig    string `json:"sig"`    // base64 Ed25519 over signKeyMessage
}

func signKeyMessage(x []byte) []byte {
	return append([]byte("linewatch-sign-encryption-key-v1\x00"), x...)
}

// encryptionKey derives the service's X25519 key pair from its seal key.
func encryptionKey(seal ed25519.PrivateKey) (pub, priv *[32]byte) {
	h := sha256.Sum256(append([]byte("linewatch-sign-x25519\x00"), seal.Seed()...))
	priv = &h
	p, _ := curve25519.X25519(priv[:], curve25519.Basepoint)
	pub = new([32]byte)
	copy(pub[:], p)
	return pub, priv
}

func announceKey(seal ed25519.PrivateKey) SignKey {
	pub, _ := encryptionKey(seal)
	return SignKey{X25519: base64.StdEncoding.EncodeToString(pub[:]), KeyID: edkey.KeyID(seal.Public().(ed25519.PublicKey)),
		Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(seal, signKeyMessage(pub[:])))}
}

// Verify checks the announcement against trusted audit keys and returns
// the encryption key.
func (k SignKey) Verify(trusted edkey.Keyring) (*[32]byte, error) {
	pub, ok := trusted[k.KeyID]
	if !ok {
		return nil, fmt.Errorf("the signing service's key %s is not trusted: pass --audit-key AUDIT.key.pub or list it in audit.trusted_keys", k.KeyID)
	}
	x, err := base64.StdEncoding.Strict().DecodeString(k.X25519)
	sig, serr := base64.StdEncoding.Strict().DecodeString(k.Sig)
	if err != nil || serr != nil || len(x) != 32 || !ed25519.Verify(pub, signKeyMessage(x), sig) {
		return nil, errors.New("the signing service's encryption key is not signed by its audit key: someone else answered")
	}
	out := new([32]byte)
	copy(out[:], x)
	return out, nil
}

// RequestSignKey asks the signing service for its encryption key and
// checks it against the trusted audit keys.
func RequestSignKey(ctx context.Context, nc *nats.Conn, trusted edkey.Keyring) (*[32]byte, error) {
	body, _ := json.Marshal(SignMsg{V: signMsgSchema, KeyRequest: true})
	m, err := nc.RequestWithContext(ctx, SignSubject, body)
	if err != nil {
		return nil, fmt.Errorf("signing service (%s, served by the alerts role): %w", SignSubject, err)
	}
	var rep SignReply
	if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Key == nil {
		return nil, fmt.Errorf("signing service: no encryption key in the reply (%v)", err)
	}
	return rep.Key.Verify(trusted)
}

// binding ties an encrypted password to one request: it cannot be
// replayed for another user, meaning or report.
func binding(m SignMsg) string {
	h := sha256.Sum256([]byte(strings.Join([]string{m.User, m.Meaning, m.Format, m.Block}, "\x00")))
	return base64.StdEncoding.EncodeToString(h[:])
}

func sealPassword(m SignMsg, password string, to *[32]byte) (string, error) {
	out, err := box.SealAnonymous(nil, []byte(binding(m)+"\x00"+password), to, rand.Reader)
	if err != nil {
		return "", fmt.Errorf("encrypt the password: %w", err)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// openPassword decrypts the password of m; ok false when it cannot be
// decrypted or belongs to another request.
func openPassword(m SignMsg, seal ed25519.PrivateKey) (string, bool) {
	sealed, err := base64.StdEncoding.Strict().DecodeString(m.PasswordBox)
	if err != nil {
		return "", false
	}
	pub, priv := encryptionKey(seal)
	plain, ok := box.OpenAnonymous(nil, sealed, pub, priv)
	if !ok {
		return "", false
	}
	bind, pw, found := strings.Cut(string(plain), "\x00")
	if !found || bind != binding(m) {
		return "", false
	}
	return pw, true
}
