package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOwnCertificateCreatedOnceAndReused(t *testing.T) {
	s := Open(t.TempDir())
	uri := "urn:linewatch:collector:testhost"
	der1, key1, err := s.OwnCertificate(uri)
	if err != nil {
		t.Fatal(err)
	}
	der2, key2, err := s.OwnCertificate(uri)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der1, der2) || !key1.Equal(key2) {
		t.Fatal("second call created a new certificate; it must reuse the persisted one")
	}
	c, _ := x509.ParseCertificate(der1)
	if len(c.URIs) != 1 || c.URIs[0].String() != uri {
		t.Fatalf("SAN URIs = %v, want %s", c.URIs, uri)
	}
	fi, err := os.Stat(s.OwnKeyFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestUntrustedThenTrusted(t *testing.T) {
	srv := Open(t.TempDir())
	der, _, err := srv.OwnCertificate("urn:server")
	if err != nil {
		t.Fatal(err)
	}
	s := Open(t.TempDir())
	now := time.Now()
	err = s.CheckServer("opc.tcp://x:4840", s.TrustedDir(), der, now)
	var ue *UntrustedError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want UntrustedError", err)
	}
	tp := Thumbprint(der)
	if !strings.Contains(err.Error(), tp) || !strings.Contains(err.Error(), "linewatch pki trust --thumbprint "+tp) {
		t.Fatalf("error does not name thumbprint and command: %v", err)
	}
	if ue.SavedAs != filepath.Join(s.RejectedDir(), tp+".der") {
		t.Fatalf("saved as %q", ue.SavedAs)
	}
	list, _ := s.List()
	if len(list) != 1 || list[0].Kind != "rejected" || list[0].Thumbprint != tp {
		t.Fatalf("list = %+v", list)
	}
	if _, err := s.Trust(strings.ToLower(tp), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckServer("opc.tcp://x:4840", s.TrustedDir(), der, now); err != nil {
		t.Fatalf("after trust: %v", err)
	}
	if err := s.CheckServer("opc.tcp://x:4840", s.TrustedDir(), der, now.AddDate(10, 0, 0)); err == nil || !strings.Contains(err.Error(), "valid only") {
		t.Fatalf("expired cert accepted: %v", err)
	}
	if _, err := s.Trust("abc", ""); err == nil {
		t.Fatal("short thumbprint accepted")
	}
}

func TestThumbprintIsSHA1Hex(t *testing.T) {
	// SHA-1("abc") from FIPS 180-2, appendix A.1.
	if got := Thumbprint([]byte("abc")); got != "A9993E364706816ABA3E25717850C26C9CD0D89D" {
		t.Fatal(got)
	}
}

func FuzzLoadCertificate(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "c.der")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Skip()
		}
		_, _ = LoadCertificate(p)
		_, _ = LoadKey(p)
	})
}
