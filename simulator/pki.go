package simulator

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ApplicationURI identifies the simulator's server certificate and is
// namespace 1 on the server.
const ApplicationURI = "urn:linewatch:simulator:server"

const (
	certFile = "server_cert.der"
	keyFile  = "server_key.pem"
)

// ephemeral is the in-memory certificate shared by every simulator of this
// process started without a PKI dir (RSA key generation dominates start-up).
var ephemeral = sync.OnceValues(func() (certAndKey, error) {
	der, key, err := newServerCert()
	return certAndKey{der, key}, err
})

type certAndKey struct {
	der []byte
	key *rsa.PrivateKey
}

// loadOrCreateCert returns the server certificate and key from dir, creating
// them on first use so clients can pin the certificate across runs. An
// empty dir gives an in-memory certificate for this process only.
func loadOrCreateCert(dir string) ([]byte, *rsa.PrivateKey, error) {
	if dir == "" {
		ck, err := ephemeral()
		return ck.der, ck.key, err
	}
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	der, errC := os.ReadFile(certPath)
	keyPEM, errK := os.ReadFile(keyPath)
	switch {
	case errC == nil && errK == nil:
		key, err := parseKey(keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("server key %s: %w (delete both %s and %s to create a new pair)", keyPath, err, certFile, keyFile)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("server certificate %s: %w", certPath, err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok || !pub.Equal(&key.PublicKey) {
			return nil, nil, fmt.Errorf("server certificate %s does not match key %s: delete both to create a new pair", certPath, keyPath)
		}
		return der, key, nil
	case errors.Is(errC, fs.ErrNotExist) && errors.Is(errK, fs.ErrNotExist):
	default:
		return nil, nil, fmt.Errorf("server PKI in %s is incomplete or unreadable (cert: %v, key: %v): restore or delete both files", dir, errC, errK)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create PKI dir: %w", err)
	}
	der, key, err := newServerCert()
	if err != nil {
		return nil, nil, err
	}
	var kb bytes.Buffer
	if err := pem.Encode(&kb, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}); err != nil {
		return nil, nil, fmt.Errorf("encode server key: %w", err)
	}
	if err := writeNew(keyPath, kb.Bytes(), 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeNew(certPath, der, 0o644); err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

// writeNew writes a file that must not exist yet, via a temp file and rename
// so a crash never leaves half a key behind.
func writeNew(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

func parseKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse RSA key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, need RSA", k)
	}
	return rk, nil
}

func newServerCert() ([]byte, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("certificate serial: %w", err)
	}
	uri, _ := url.Parse(ApplicationURI)
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "linewatch simulator", Organization: []string{"linewatch"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create server certificate: %w", err)
	}
	return der, key, nil
}

// trustedDir holds client certificates (DER or PEM) the server trusts.
const trustedDir = "trusted"

// loadTrusted builds the client trust list from extra DER certificates and
// the files in dir/trusted.
func loadTrusted(dir string, extra [][]byte) (map[[32]byte]bool, error) {
	set := map[[32]byte]bool{}
	add := func(der []byte, from string) error {
		if _, err := x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("trusted client certificate %s: %w", from, err)
		}
		set[sha256.Sum256(der)] = true
		return nil
	}
	for i, der := range extra {
		if err := add(der, fmt.Sprintf("TrustedClientCerts[%d]", i)); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return set, nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, trustedDir))
	if errors.Is(err, fs.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trust list: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		path := filepath.Join(dir, trustedDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read trust list: %w", err)
		}
		if !bytes.Contains(b, []byte("-----BEGIN")) {
			if err := add(b, path); err != nil {
				return nil, err
			}
			continue
		}
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				if err := add(blk.Bytes, path); err != nil {
					return nil, err
				}
			}
		}
	}
	return set, nil
}
