package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
)

// Token lifetimes.
const (
	// TokenTTL is how long a token is valid; clients refresh it before.
	TokenTTL = time.Hour
	// SessionMax is how long refreshes may extend a login: one shift plus
	// handover, then the password again.
	SessionMax = 12 * time.Hour
	// authBucketTTL keeps nonces and revocations longer than any token.
	authBucketTTL = TokenTTL + 15*time.Minute
)

// Refusal codes of an AuthError.
const (
	CodeBadCredentials = "bad_credentials"
	CodeRateLimited    = "rate_limited"
	CodeBadToken       = "bad_token"
	CodeTokenExpired   = "token_expired"
	CodeReplay         = "replay"
	CodeUnknownUser    = "unknown_user"
	CodeUnavailable    = "auth_unavailable"
)

// AuthError is a refused login or request. Verified is the user the
// request proved to be (its token and proof are good, but it was refused
// for another reason: replay, removed user, revoked token); Claimed is the
// user it named without proof. At most one is set.
type AuthError struct {
	Code     string
	Message  string
	Verified string
	Claimed  string
	// Wait is how long a rate-limited client should wait.
	Wait time.Duration
}

func (e *AuthError) Error() string { return e.Message }

func refused(code, claimed, format string, args ...any) error {
	return &AuthError{Code: code, Claimed: claimed, Message: fmt.Sprintf(format, args...)}
}

// AsAuthError returns the AuthError in err's chain.
func AsAuthError(err error) (*AuthError, bool) {
	var e *AuthError
	ok := errors.As(err, &e)
	return e, ok
}

// OpenAuthBucket creates or opens bus.BucketAuth.
func OpenAuthBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, AuthBucketConfig(replicas))
	if err != nil {
		return nil, fmt.Errorf("JetStream key-value bucket %s: %w", bus.BucketAuth, err)
	}
	return kv, nil
}

// AuthBucketConfig is bus.BucketAuth as provisioned.
func AuthBucketConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: bus.BucketAuth, Description: "linewatch used request nonces and revoked tokens (alerts role only)",
		History: 1, TTL: authBucketTTL, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	}
}

// AuthorityOptions configure an Authority; Users, Signer and KV are required.
type AuthorityOptions struct {
	Users  *Directory
	Signer *Signer
	// KV is bus.BucketAuth (OpenAuthBucket), shared by every worker.
	KV     jetstream.KeyValue
	Now    func() time.Time
	Logger *slog.Logger
	// ConcurrentChecks bounds bcrypt comparisons running at once (default 2).
	ConcurrentChecks int
}

// Authority issues and verifies tokens: a login checks the password and
// returns a token bound to the requester's key; every later request
// carries the token, a fresh nonce and a proof signed with that key.
// Verify reads the user's CURRENT record, so a removed user is refused at
// once; the caller checks the role the returned User has now.
type Authority struct {
	o         AuthorityOptions
	passwords *Passwords
}

// NewAuthority checks the options.
func NewAuthority(o AuthorityOptions) (*Authority, error) {
	if o.Users == nil || o.Signer == nil || o.KV == nil {
		return nil, errors.New("identity: Authority needs Users, Signer and KV")
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ConcurrentChecks <= 0 {
		o.ConcurrentChecks = 2
	}
	return &Authority{o: o, passwords: NewPasswords(o.Users, o.Now, o.ConcurrentChecks)}, nil
}

// Passwords is the authority's password checker, whose attempt limits
// other requests that re-check a password (e-signatures) share.
func (a *Authority) Passwords() *Passwords { return a.passwords }

// Session is a token with what it says.
type Session struct {
	Token  string
	Claims Claims
	User   User
}

// Login checks user and password and issues a token bound to key (a
// RequestKey's Public). client names where the login comes from (the
// console adds the browser's address); attempts are limited per user and
// client (5) and per user over all clients (50), reserved before the
// password is checked.
func (a *Authority) Login(ctx context.Context, user, password, client, key string) (Session, error) {
	if err := checkName(user); err != nil {
		return Session{}, refused(CodeBadCredentials, "", "Wrong user name or password.")
	}
	if _, err := decodeKey(key); err != nil {
		return Session{}, refused(CodeBadToken, user, "login needs the requester's public key: %v", err)
	}
	usr, err := a.passwords.Check(ctx, user, password, client)
	if err != nil {
		return Session{}, err
	}
	now := a.o.Now()
	return a.issue(usr, now, now, key), nil
}

func (a *Authority) issue(u User, now, authTime time.Time, key string) Session {
	c := Claims{User: u.Name, IssuedAt: now, Expires: minTime(now.Add(TokenTTL), authTime.Add(SessionMax)),
		AuthTime: authTime, ID: randomID(), Key: key, Password: passwordFingerprint(u)}
	tok := a.o.Signer.Sign(c)
	c, _, _, _ = ParseToken(tok)
	return Session{Token: tok, Claims: c, User: u}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Request is the proof every authenticated request carries.
type Request struct {
	Token string `json:"token"`
	Nonce string `json:"nonce"`
	Proof string `json:"proof"`
}

// Sign makes the Request for action and fields with this token and key.
func Sign(token string, key RequestKey, action string, fields ...string) Request {
	nonce, proof := key.Proof(token, action, fields...)
	return Request{Token: token, Nonce: nonce, Proof: proof}
}

// Verify checks a request for action with fields: the token's signature
// and expiry, the proof by the key the token names, that the token is not
// revoked and the nonce not used before (on any worker), and that the user
// still exists. It returns the user's current record.
func (a *Authority) Verify(ctx context.Context, r Request, action string, fields ...string) (User, Claims, error) {
	c, err := a.verifyToken(r.Token)
	if err != nil {
		return User{}, c, err
	}
	claimed := c.User
	if n := len(r.Nonce); n < 16 || n > 128 || !utf8.ValidString(r.Nonce) {
		return User{}, c, refused(CodeBadToken, claimed, "request nonce must be 16 to 128 characters, fresh for every request")
	}
	pub, err := decodeKey(c.Key)
	if err != nil {
		return User{}, c, refused(CodeBadToken, claimed, "token names no requester key; log in again")
	}
	proof, err := base64.RawURLEncoding.DecodeString(r.Proof)
	if err != nil || !ed25519.Verify(pub, ProofBytes(r.Token, r.Nonce, action, fields...), proof) {
		return User{}, c, refused(CodeBadToken, claimed, "request proof does not match the token's key or the request (signed by another key, or altered on the way)")
	}
	// From here the request is proven to come from the holder of the token.
	u, ok, err := a.o.Users.Lookup(c.User)
	if err != nil {
		return User{}, c, &AuthError{Code: CodeUnavailable, Message: "the users file cannot be read; ask the administrator"}
	}
	if !ok {
		return User{}, c, &AuthError{Code: CodeUnknownUser, Verified: c.User, Message: fmt.Sprintf("user %s is no longer in the users file", c.User)}
	}
	if passwordFingerprint(u) != c.Password {
		return User{}, c, &AuthError{Code: CodeTokenExpired, Verified: c.User, Message: fmt.Sprintf("the password of %s was changed after this login; log in again", c.User)}
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.o.KV.Get(rctx, revokedKey(c.ID)); err == nil {
		return User{}, c, &AuthError{Code: CodeTokenExpired, Verified: c.User, Message: "this token was ended by a logout or a refresh; log in again"}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return User{}, c, &AuthError{Code: CodeUnavailable, Message: fmt.Sprintf("token check unavailable (%v); try again", err)}
	}
	if _, err := a.o.KV.Create(rctx, nonceKey(c.ID, r.Nonce), []byte(c.Expires.Format(time.RFC3339))); errors.Is(err, jetstream.ErrKeyExists) {
		return User{}, c, &AuthError{Code: CodeReplay, Verified: c.User, Message: "this request was already received once (replay refused); send a new one"}
	} else if err != nil {
		return User{}, c, &AuthError{Code: CodeUnavailable, Message: fmt.Sprintf("replay check unavailable (%v); try again", err)}
	}
	return u, c, nil
}

// verifyToken checks the signature and time window of a token.
func (a *Authority) verifyToken(tok string) (Claims, error) {
	c, signed, sig, err := ParseToken(tok)
	if err != nil {
		return Claims{}, refused(CodeBadToken, "", "%v", err)
	}
	if c.Issuer != a.o.Signer.KeyID() || !ed25519.Verify(a.o.Signer.PublicKey(), signed, sig) {
		return Claims{}, refused(CodeBadToken, c.User, "token signature is not valid for this alarm service; log in again")
	}
	now := a.o.Now()
	if !now.Before(c.Expires) || !now.Before(c.AuthTime.Add(SessionMax)) {
		return c, refused(CodeTokenExpired, c.User, "token of %s expired at %s; log in again", c.User, c.Expires.UTC().Format(time.RFC3339))
	}
	if c.IssuedAt.After(now.Add(5 * time.Minute)) {
		return c, refused(CodeBadToken, c.User, "token issued in the future (%s); check the clocks", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// Refresh issues a new token for the same login and key (the old one is
// revoked); it needs a request proof like any command.
func (a *Authority) Refresh(ctx context.Context, r Request) (Session, error) {
	u, c, err := a.Verify(ctx, r, "auth."+bus.AuthRefresh)
	if err != nil {
		return Session{}, err
	}
	if err := a.revoke(ctx, c); err != nil {
		return Session{}, err
	}
	now := a.o.Now()
	if !now.Before(c.AuthTime.Add(SessionMax)) {
		return Session{}, refused(CodeTokenExpired, u.Name, "login of %s is older than %s; log in again", u.Name, SessionMax)
	}
	return a.issue(u, now, c.AuthTime, c.Key), nil
}

// Logout revokes the request's token.
func (a *Authority) Logout(ctx context.Context, r Request) (User, error) {
	u, c, err := a.Verify(ctx, r, "auth."+bus.AuthLogout)
	if err != nil {
		return User{}, err
	}
	return u, a.revoke(ctx, c)
}

func (a *Authority) revoke(ctx context.Context, c Claims) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.o.KV.Put(rctx, revokedKey(c.ID), []byte(c.User)); err != nil {
		return &AuthError{Code: CodeUnavailable, Message: fmt.Sprintf("token revocation unavailable (%v); try again", err)}
	}
	return nil
}

// passwordFingerprint names the user's current password hash without
// revealing it (a token holder learns nothing usable for a guess).
func passwordFingerprint(u User) string {
	h := sha256.Sum256(append([]byte("linewatch-pwf\x00"), u.hash...))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

func decodeKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("not a base64url Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

// nonceKey hashes token id and nonce into a KV key (the nonce is the
// requester's text; the hash keeps the key within KV's alphabet).
func nonceKey(jti, nonce string) string {
	h := sha256.Sum256([]byte(jti + "\x00" + nonce))
	return "n." + hex.EncodeToString(h[:])
}

func revokedKey(jti string) string {
	h := sha256.Sum256([]byte(jti))
	return "r." + hex.EncodeToString(h[:])
}
