package simulator

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uapolicy"
)

// authenticator checks the identity token of ActivateSession, which the
// gopcua server accepts unchecked.
type authenticator struct {
	users          map[string][32]byte // username -> sha256(password)
	allowAnonymous bool
	key            *rsa.PrivateKey
}

func newAuthenticator(users map[string]string, anon bool, key *rsa.PrivateKey) *authenticator {
	a := &authenticator{users: map[string][32]byte{}, allowAnonymous: anon, key: key}
	for u, p := range users {
		a.users[u] = sha256.Sum256([]byte(p))
	}
	return a
}

// check returns the authenticated user ("" for anonymous) or the status
// code to refuse the session with.
func (a *authenticator) check(tok *ua.ExtensionObject, nonce []byte) (string, ua.StatusCode) {
	var v any
	if tok != nil {
		v = tok.Value
	}
	switch t := v.(type) {
	case nil, *ua.AnonymousIdentityToken:
		if !a.allowAnonymous {
			return "", ua.StatusBadIdentityTokenRejected
		}
		return "", ua.StatusOK
	case *ua.UserNameIdentityToken:
		if len(a.users) == 0 {
			return t.UserName, ua.StatusBadIdentityTokenRejected
		}
		pw, err := a.decryptPassword(t, nonce)
		if err != nil {
			return t.UserName, ua.StatusBadIdentityTokenInvalid
		}
		want, known := a.users[t.UserName]
		got := sha256.Sum256(pw)
		// Compare even for unknown users so timing does not reveal which exist.
		ok := subtle.ConstantTimeCompare(got[:], want[:]) == 1
		if !known || !ok {
			return t.UserName, ua.StatusBadUserAccessDenied
		}
		return t.UserName, ua.StatusOK
	default:
		return "", ua.StatusBadIdentityTokenRejected
	}
}

// decryptPassword undoes the client's Basic256Sha256 token encryption:
// RSA-OAEP over [uint32 length][password][server nonce] (OPC UA Part 4, 7.36.2.3).
// Plain-text passwords are refused.
func (a *authenticator) decryptPassword(t *ua.UserNameIdentityToken, nonce []byte) ([]byte, error) {
	enc, err := uapolicy.Asymmetric(ua.SecurityPolicyURIBasic256Sha256, a.key, &a.key.PublicKey)
	if err != nil {
		return nil, err
	}
	if t.EncryptionAlgorithm != enc.EncryptionURI() {
		return nil, errors.New("password not encrypted with " + enc.EncryptionURI())
	}
	plain, err := enc.Decrypt(t.Password)
	if err != nil {
		return nil, err
	}
	if len(plain) < 4 {
		return nil, errors.New("short secret")
	}
	n := int(binary.LittleEndian.Uint32(plain))
	body := plain[4:]
	if n > len(body) || n < len(nonce) || len(nonce) == 0 {
		return nil, errors.New("bad secret length")
	}
	body = body[:n]
	pw, tail := body[:n-len(nonce)], body[n-len(nonce):]
	if subtle.ConstantTimeCompare(tail, nonce) != 1 {
		return nil, errors.New("secret does not end with this session's nonce (replayed token?)")
	}
	return pw, nil
}
