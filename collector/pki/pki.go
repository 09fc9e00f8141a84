package pki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store is a PKI directory: own/, trusted/, rejected/.
type Store struct {
	Dir string
}

// Open returns the store rooted at dir (created on first write).
func Open(dir string) *Store { return &Store{Dir: dir} }

// OwnCertFile and OwnKeyFile are the application instance certificate paths.
func (s *Store) OwnCertFile() string { return filepath.Join(s.Dir, "own", "cert.der") }
func (s *Store) OwnKeyFile() string  { return filepath.Join(s.Dir, "own", "key.pem") }

// TrustedDir is the default trust list; RejectedDir holds refused server certificates.
func (s *Store) TrustedDir() string  { return filepath.Join(s.Dir, "trusted") }
func (s *Store) RejectedDir() string { return filepath.Join(s.Dir, "rejected") }

// ApplicationURI is the collector's OPC UA application URI on this host.
func ApplicationURI() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return "urn:linewatch:collector:" + h
}

// Thumbprint is the SHA-1 of the DER certificate, upper-case hex.
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// OwnCertificate loads the application instance certificate, creating it
// (RSA 2048, self-signed, appURI in the SAN) when it does not exist yet.
func (s *Store) OwnCertificate(appURI string) ([]byte, *rsa.PrivateKey, error) {
	der, key, err := LoadPair(s.OwnCertFile(), s.OwnKeyFile())
	if err == nil {
		return der, key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if err := s.create(appURI); err != nil {
		return nil, nil, err
	}
	return LoadPair(s.OwnCertFile(), s.OwnKeyFile())
}

func (s *Store) create(appURI string) error {
	dir := filepath.Dir(s.OwnCertFile())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create PKI directory: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate application key: %w", err)
	}
	u, err := url.Parse(appURI)
	if err != nil {
		return fmt.Errorf("application URI %q: %w", appURI, err)
	}
	host, _ := os.Hostname()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "linewatch collector", Organization: []string{"linewatch"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment |
			x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
	}
	if host != "" {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create application certificate: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	// O_EXCL: two collectors starting at once must not overwrite each other's key.
	if err := writeExcl(s.OwnKeyFile(), keyPEM, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return writeExcl(s.OwnCertFile(), der, 0o644)
}

func writeExcl(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// LoadPair reads a certificate (DER or PEM) and an RSA private key (PEM
// PKCS#1 or PKCS#8, or DER).
func LoadPair(certFile, keyFile string) ([]byte, *rsa.PrivateKey, error) {
	der, err := LoadCertificate(certFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := LoadKey(keyFile)
	if err != nil {
		return nil, nil, err
	}
	c, _ := x509.ParseCertificate(der)
	if pub, ok := c.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("certificate %s and key %s do not belong together", certFile, keyFile)
	}
	return der, key, nil
}

// LoadCertificate reads a DER or PEM certificate file and returns DER.
func LoadCertificate(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	if _, err := x509.ParseCertificate(b); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", file, err)
	}
	return b, nil
}

// LoadKey reads an RSA private key file.
func LoadKey(file string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	if k, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("private key %s: not an RSA key in PKCS#1 or PKCS#8: %w", file, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key %s: OPC UA needs an RSA key, got %T", file, k)
	}
	return rk, nil
}
