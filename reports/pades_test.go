package reports

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requirePoppler returns the path of a poppler tool, skipping loudly when
// it is missing outside CI; under CI=true a missing tool fails the test.
func requirePoppler(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (poppler-utils) is not installed: CI must run this test (scripts/test-deps.sh installs it)", tool)
	}
	t.Skipf("SKIPPED LOUDLY: %s (poppler-utils) is not installed; run scripts/test-deps.sh", tool)
	return ""
}

// TestPDFStandardSignature: the PDF carries a PAdES B-B signature that
// poppler's pdfsig — what a QA reviewer would run — reports valid over the
// whole document, and that linewatch report verify checks too.
func TestPDFStandardSignature(t *testing.T) {
	data, err := Render(smallReport(), "pdf", fuzzKey, t0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(data, fuzzKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if v.PDF == nil || !strings.Contains(v.PDF.Subject, KeyID(fuzzKey.Public().(ed25519.PublicKey))) {
		t.Fatalf("PDF signature not reported: %+v", v.PDF)
	}
	pdfsig := requirePoppler(t, "pdfsig")
	path := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdfsig, path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	for _, want := range []string{"Signature Type: ETSI.CAdES.detached", "Total document signed", "Signature is Valid", "Signing Hash Algorithm: SHA-256"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("pdfsig output lacks %q:\n%s", want, out)
		}
	}
	// pdfsig sees a changed byte too.
	bad := bytes.Clone(data)
	i := bytes.Index(bad, []byte("/Type /Catalog"))
	bad[i+1] = 'X'
	os.WriteFile(path, bad, 0o600)
	out, _ = exec.Command(pdfsig, path).CombinedOutput()
	if bytes.Contains(out, []byte("Signature is Valid")) {
		t.Errorf("pdfsig accepts a changed PDF:\n%s", out)
	}
}

// TestPDFSignatureTamper: every kind of change to the signed PDF fails
// report verify with a reason.
func TestPDFSignatureTamper(t *testing.T) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	data, err := Render(smallReport(), "pdf", fuzzKey, t0)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := locate(data)
	rev := pdfRevisionEnd(data, start)
	c0 := bytes.Index(data[rev:], []byte("/Contents <")) + rev + len("/Contents ")
	flip := func(at int, x byte) []byte { b := bytes.Clone(data); b[at] ^= x; return b }
	hexAt := c0 + 1 + bytes.IndexAny(data[c0+1:c0+200], "abcdef")
	cases := map[string][]byte{
		"sealed body byte":        flip(rev/2, 0x01),
		"catalog in the update":   flip(rev+10, 0x01),
		"byte range digit":        flip(bytes.Index(data[rev:], []byte("/ByteRange [0 "))+rev+len("/ByteRange [0 "), 0x01),
		"CMS hex digit":           flip(c0+40, 0x01),
		"CMS hex case":            flip(hexAt, 0x20),
		"padding zero":            flip(c0+pdfContentsLen-2, 0x01),
		"trailer after the range": flip(len(data)-8, 0x01),
		"signature update cut":    data[:rev],
		"bytes appended":          append(bytes.Clone(data), "\n% more\n"...),
	}
	for name, bad := range cases {
		if _, err := Verify(bad, pub); err == nil {
			t.Errorf("%s: verify passed", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// Re-signing the document with another key's PDF signature fails: the
	// seal names the certificate.
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	ec, _ := pdfSigningKey(other)
	cert, _ := pdfCertificate(other, ec, t0)
	forged, err := pdfSign(data[:rev], other, cert, ec, "x", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(forged, pub); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("PDF signature replaced: %v", err)
	}
}

func TestPDFSigningKeyIsDerived(t *testing.T) {
	a, _ := pdfSigningKey(fuzzKey)
	b, _ := pdfSigningKey(fuzzKey)
	c, _ := pdfSigningKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize)))
	if !a.Equal(b) || a.Equal(c) {
		t.Error("the PDF key must be a function of the report key, and differ between report keys")
	}
}

// FuzzPDFSignature: the signature-dictionary parser never panics and
// accepts nothing but the genuine update.
func FuzzPDFSignature(f *testing.F) {
	small := smallReport()
	small.Charts = nil
	data, err := Render(small, "pdf", fuzzKey, t0)
	if err != nil {
		f.Fatal(err)
	}
	start, _ := locate(data)
	rev := pdfRevisionEnd(data, start)
	f.Add(data[rev:])
	f.Add([]byte("/Type /Sig /ByteRange [0 1 2 3] /Contents <00>"))
	f.Fuzz(func(t *testing.T, upd []byte) {
		doc := append(bytes.Clone(data[:rev]), upd...)
		if _, err := verifyPDFSignature(doc, rev); err == nil && !bytes.Equal(upd, data[rev:]) {
			t.Fatalf("a forged signature update verified")
		}
	})
}
