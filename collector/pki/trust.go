package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// UntrustedError is returned when a server presents a certificate that is
// not in the trust list. It names the thumbprint and the command that trusts it.
type UntrustedError struct {
	Endpoint   string
	Thumbprint string
	Subject    string
	TrustDir   string
	PKIDir     string
	SavedAs    string // copy in rejected/, "" if it could not be saved
}

func (e *UntrustedError) Error() string {
	cmd := "linewatch pki trust --thumbprint " + e.Thumbprint + " --pki-dir " + e.PKIDir
	if e.TrustDir != filepath.Join(e.PKIDir, "trusted") {
		cmd += " --trust-dir " + e.TrustDir
	}
	return fmt.Sprintf("OPC UA server %s presented certificate %q with thumbprint %s, which is not in the trust list %s; "+
		"check the thumbprint with the server's administrator, then trust it with: %s",
		e.Endpoint, e.Subject, e.Thumbprint, e.TrustDir, cmd)
}

// CertInfo describes a certificate file in the store.
type CertInfo struct {
	Kind       string // own, trusted, rejected
	File       string
	Thumbprint string
	Subject    string
	URIs       []string
	NotBefore  time.Time
	NotAfter   time.Time
}

// CheckServer accepts der when a certificate with the same thumbprint is in
// trustDir and it is within its validity period. Otherwise it saves der in
// rejected/ and returns an *UntrustedError (or a validity error).
func (s *Store) CheckServer(endpoint, trustDir string, der []byte, now time.Time) error {
	if len(der) == 0 {
		return fmt.Errorf("OPC UA server %s sent no certificate for a secured endpoint", endpoint)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("OPC UA server %s: certificate cannot be parsed: %w", endpoint, err)
	}
	tp := Thumbprint(der)
	trusted, err := readDir(trustDir)
	if err != nil {
		return err
	}
	for _, c := range trusted {
		if c.Thumbprint == tp {
			if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
				return fmt.Errorf("OPC UA server %s: trusted certificate %s is valid only from %s to %s; ask the machine vendor for a renewed certificate",
					endpoint, tp, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
			}
			return nil
		}
	}
	ue := &UntrustedError{Endpoint: endpoint, Thumbprint: tp, Subject: cert.Subject.String(), TrustDir: trustDir, PKIDir: s.Dir}
	if err := os.MkdirAll(s.RejectedDir(), 0o700); err == nil {
		p := filepath.Join(s.RejectedDir(), tp+".der")
		if err := os.WriteFile(p, der, 0o644); err == nil {
			ue.SavedAs = p
		}
	}
	return ue
}

// Trust moves the rejected certificate with thumbprint into trustDir
// ("" = the store's trusted/).
func (s *Store) Trust(thumbprint, trustDir string) (string, error) {
	tp := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(thumbprint), ":", ""))
	if len(tp) != 40 {
		return "", fmt.Errorf("thumbprint %q: expected 40 hex digits (SHA-1), as printed by the collector or `linewatch pki list`", thumbprint)
	}
	if trustDir == "" {
		trustDir = s.TrustedDir()
	}
	rejected, err := readDir(s.RejectedDir())
	if err != nil {
		return "", err
	}
	for _, c := range rejected {
		if c.Thumbprint != tp {
			continue
		}
		if err := os.MkdirAll(trustDir, 0o700); err != nil {
			return "", fmt.Errorf("trust list: %w", err)
		}
		dst := filepath.Join(trustDir, tp+".der")
		if err := os.Rename(c.File, dst); err != nil {
			return "", fmt.Errorf("trust certificate %s: %w", tp, err)
		}
		return dst, nil
	}
	return "", fmt.Errorf("no rejected certificate with thumbprint %s in %s; connect once so the collector records it, or copy the server certificate into %s",
		tp, s.RejectedDir(), trustDir)
}

// List returns the own, trusted and rejected certificates.
func (s *Store) List(extraTrustDirs ...string) ([]CertInfo, error) {
	var out []CertInfo
	if c, err := infoOf(s.OwnCertFile(), "own"); err == nil {
		out = append(out, c)
	}
	dirs := append([]string{s.TrustedDir()}, extraTrustDirs...)
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		cs, err := readDir(d)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	cs, err := readDir(s.RejectedDir())
	if err != nil {
		return nil, err
	}
	for i := range cs {
		cs[i].Kind = "rejected"
	}
	return append(out, cs...), nil
}

func readDir(dir string) ([]CertInfo, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("certificate directory: %w", err)
	}
	var out []CertInfo
	for _, e := range ents {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".der" && ext != ".pem" && ext != ".crt" && ext != ".cer") {
			continue
		}
		c, err := infoOf(filepath.Join(dir, e.Name()), "trusted")
		if err != nil {
			continue // a stray file must not break the trust check of the others
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

func infoOf(file, kind string) (CertInfo, error) {
	der, err := LoadCertificate(file)
	if err != nil {
		return CertInfo{}, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return CertInfo{}, err
	}
	ci := CertInfo{Kind: kind, File: file, Thumbprint: Thumbprint(der), Subject: c.Subject.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()}
	for _, u := range c.URIs {
		ci.URIs = append(ci.URIs, u.String())
	}
	return ci, nil
}
