package reports

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"time"
)

// The PDF rendering carries, besides the integrity block, a standard PDF
// signature (ISO 32000-1 §12.8, PAdES baseline B-B, SubFilter
// ETSI.CAdES.detached) that Acrobat and poppler's pdfsig check: an
// incremental update appended after the sealed document with a signature
// field, its signature dictionary (/ByteRange over every byte of the file
// but the /Contents hex string, /Contents a CMS detached SignedData, see
// cms.go) and the catalog and first page updated to point at it.
//
// The key is ECDSA P-256 (PDF readers' CMS code, NSS among them, does not
// take Ed25519), derived from the Ed25519 report key with HKDF, so the
// report key stays the one key to generate, protect and trust. Its
// self-signed certificate names the report key; the Ed25519 seal binds the
// certificate's SHA-256 (Seal.PDFCert), so `linewatch report verify`
// trusts the PDF signature exactly as far as it trusts the report key.

// pdfContentsLen is the number of hex digits reserved for the CMS.
const pdfContentsLen = 8192

// pdfSigningKey derives the ECDSA P-256 key of the PDF signature from the
// report key.
func pdfSigningKey(key ed25519.PrivateKey) (*ecdsa.PrivateKey, error) {
	for i := range 16 {
		d, err := hkdf.Key(sha256.New, key.Seed(), nil, "linewatch-pdf-signature-ecdsa-p256-v1/"+strconv.Itoa(i), 32)
		if err != nil {
			return nil, err
		}
		// A scalar of zero or ≥ the group order is refused: take the next.
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("PDF signing key: no valid P-256 scalar derived")
}

// pdfCertificate is the self-signed certificate of the PDF signing key,
// valid from an hour before now for 30 years.
func pdfCertificate(key ed25519.PrivateKey, ec *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, error) {
	kid := KeyID(key.Public().(ed25519.PublicKey))
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "linewatch report signing key " + kid, Organization: []string{"linewatch"}},
		NotBefore:             now.Add(-time.Hour).UTC().Truncate(time.Second),
		NotAfter:              now.AddDate(30, 0, 0).UTC().Truncate(time.Second),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ec.PublicKey, ec)
	if err != nil {
		return nil, fmt.Errorf("PDF signing certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

func certFingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

var (
	reStartxref = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	reRoot      = regexp.MustCompile(`/Root (\d+) 0 R`)
	reInfo      = regexp.MustCompile(`/Info (\d+) 0 R`)
	reSize      = regexp.MustCompile(`/Size (\d+)`)
	reKids      = regexp.MustCompile(`/Kids \[(\d+) 0 R`)
	rePages     = regexp.MustCompile(`/Pages (\d+) 0 R`)
)

// pdfObject returns the dictionary text ("<<…>>") of object num of a PDF
// fpdf wrote (classic xref table, uncompressed dictionaries).
func pdfObject(data []byte, num int) ([]byte, error) {
	head := []byte("\n" + strconv.Itoa(num) + " 0 obj\n")
	i := bytes.Index(data, head)
	if i < 0 {
		return nil, fmt.Errorf("PDF: object %d not found", num)
	}
	body := data[i+len(head):]
	j := bytes.Index(body, []byte("\nendobj"))
	if j < 0 {
		return nil, fmt.Errorf("PDF: object %d not terminated", num)
	}
	d := bytes.TrimSpace(body[:j])
	if !bytes.HasPrefix(d, []byte("<<")) || !bytes.HasSuffix(d, []byte(">>")) {
		return nil, fmt.Errorf("PDF: object %d is not a dictionary", num)
	}
	return d, nil
}

func submatchInt(re *regexp.Regexp, b []byte) (int, error) {
	m := re.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("PDF: %s not found", re)
	}
	return strconv.Atoi(string(m[1]))
}

// pdfSign appends the signature update to a sealed PDF.
func pdfSign(doc []byte, key ed25519.PrivateKey, cert *x509.Certificate, ec *ecdsa.PrivateKey, signedBy string, at time.Time) ([]byte, error) {
	m := reStartxref.FindSubmatch(doc)
	if m == nil {
		return nil, errors.New("PDF: no startxref at the end")
	}
	prev, _ := strconv.Atoi(string(m[1]))
	trailer := doc[bytes.LastIndex(doc, []byte("trailer")):]
	root, err := submatchInt(reRoot, trailer)
	if err != nil {
		return nil, err
	}
	info, err := submatchInt(reInfo, trailer)
	if err != nil {
		return nil, err
	}
	size, err := submatchInt(reSize, trailer)
	if err != nil {
		return nil, err
	}
	catalog, err := pdfObject(doc, root)
	if err != nil {
		return nil, err
	}
	pagesNum, err := submatchInt(rePages, catalog)
	if err != nil {
		return nil, err
	}
	pages, err := pdfObject(doc, pagesNum)
	if err != nil {
		return nil, err
	}
	page1, err := submatchInt(reKids, pages)
	if err != nil {
		return nil, err
	}
	page, err := pdfObject(doc, page1)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(catalog, []byte("/AcroForm")) || bytes.Contains(page, []byte("/Annots")) {
		return nil, errors.New("PDF: the document already has a form or annotations; linewatch signs only its own renderings")
	}
	sigNum, fieldNum := size, size+1

	var b bytes.Buffer
	b.Write(doc)
	if !bytes.HasSuffix(doc, []byte("\n")) {
		b.WriteByte('\n')
	}
	offsets := map[int]int{}
	obj := func(num int, body string) {
		offsets[num] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, body)
	}
	obj(root, string(catalog[:len(catalog)-2])+fmt.Sprintf("/AcroForm << /Fields [%d 0 R] /SigFlags 3 >>\n>>", fieldNum))
	obj(page1, string(page[:len(page)-2])+fmt.Sprintf("/Annots [%d 0 R]\n>>", fieldNum))
	obj(fieldNum, fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /T (linewatch report seal) /V %d 0 R /Rect [0 0 0 0] /F 132 /P %d 0 R >>", sigNum, page1))
	// The signature dictionary: /ByteRange is written as a fixed-width
	// placeholder and filled in once the /Contents offsets are known.
	offsets[sigNum] = b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /Name %s /M %s /Reason (content sealed by linewatch report) /ByteRange ",
		sigNum, pdfString(signedBy), pdfString(at.UTC().Format("D:20060102150405Z")))
	brAt := b.Len()
	b.WriteString("[" + string(bytes.Repeat([]byte(" "), 40)) + "]")
	b.WriteString(" /Contents <")
	c0 := b.Len() - 1 // the '<'
	b.Write(bytes.Repeat([]byte("0"), pdfContentsLen))
	b.WriteString(">")
	c1 := b.Len()
	b.WriteString(" >>\nendobj\n")

	xref := b.Len()
	b.WriteString("xref\n")
	for _, n := range []int{root, page1, sigNum, fieldNum} {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", n, offsets[n])
	}
	fmt.Fprintf(&b, "trailer\n<<\n/Size %d\n/Root %d 0 R\n/Info %d 0 R\n/Prev %d\n>>\nstartxref\n%d\n%%%%EOF\n", fieldNum+1, root, info, prev, xref)

	out := b.Bytes()
	br := fmt.Sprintf("[0 %d %d %d]", c0, c1, len(out)-c1)
	if len(br) > 42 {
		return nil, errors.New("PDF: byte range does not fit")
	}
	copy(out[brAt:], br+string(bytes.Repeat([]byte(" "), 42-len(br))))
	h := sha256.New()
	h.Write(out[:c0])
	h.Write(out[c1:])
	cms, err := cmsSign(h.Sum(nil), ec, cert)
	if err != nil {
		return nil, err
	}
	hx := hex.EncodeToString(cms)
	if len(hx) > pdfContentsLen {
		return nil, fmt.Errorf("PDF signature: CMS of %d bytes exceeds the %d reserved", len(cms), pdfContentsLen/2)
	}
	copy(out[c0+1:], hx)
	return out, nil
}

// pdfString is a PDF literal string of printable ASCII (other bytes as
// octal escapes).
func pdfString(s string) string {
	var b bytes.Buffer
	b.WriteByte('(')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(' || c == ')' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}

var reByteRange = regexp.MustCompile(`/ByteRange \[0 (\d{1,12}) (\d{1,12}) (\d{1,12})\] *`)

// PDFSignature is what the check of a PDF's signature dictionary found.
type PDFSignature struct {
	CertSHA256 string
	Subject    string
	// Revision is the length of the document as sealed, before the
	// signature update.
	Revision int
}

// pdfRevisionEnd is the end of the sealed document: the first %%EOF after
// the integrity block (fpdf writes one; the signature update follows).
func pdfRevisionEnd(data []byte, blockStart int) int {
	i := bytes.Index(data[blockStart:], []byte("%%EOF\n"))
	if i < 0 {
		return len(data)
	}
	return blockStart + i + len("%%EOF\n")
}

// verifyPDFSignature checks the signature update after the sealed
// revision: exactly one signature dictionary, its /ByteRange covering the
// whole file but the /Contents string, the CMS over those bytes (cmsVerify)
// and the hex written as linewatch writes it (lower case, zero padded), so
// that no byte of the file escapes both the range and the CMS.
func verifyPDFSignature(data []byte, rev int) (*PDFSignature, error) {
	upd := data[rev:]
	if len(upd) == 0 {
		return nil, errors.New("PDF signature: missing (no signature update after the sealed document)")
	}
	if bytes.Count(upd, []byte("/ByteRange")) != 1 || bytes.Count(data, []byte("/Type /Sig ")) != 1 {
		return nil, errors.New("PDF signature: exactly one signature dictionary expected")
	}
	m := reByteRange.FindSubmatchIndex(upd)
	if m == nil {
		return nil, errors.New("PDF signature: /ByteRange is malformed")
	}
	num := func(k int) int { n, _ := strconv.Atoi(string(upd[m[2*k]:m[2*k+1]])); return n }
	c0, c1, tail := num(1), num(2), num(3)
	after := rev + m[1]
	if c0 != after+len("/Contents ") || !bytes.HasPrefix(data[after:], []byte("/Contents <")) || c1 != c0+pdfContentsLen+2 ||
		c1 > len(data) || data[c1-1] != '>' || c1+tail != len(data) {
		return nil, errors.New("PDF signature: /ByteRange does not cover the whole file but the signature itself (the file was extended or cut after signing)")
	}
	hx := data[c0+1 : c1-1]
	raw, err := hex.DecodeString(string(hx))
	if err != nil || hex.EncodeToString(raw) != string(hx) {
		return nil, errors.New("PDF signature: /Contents is not lower-case hex as linewatch writes it")
	}
	// The DER's own length says where it ends; the padding after it must
	// be zeros only.
	var outer asn1.RawValue
	pad, err := asn1.Unmarshal(raw, &outer)
	if err != nil || len(bytes.Trim(pad, "\x00")) != 0 {
		return nil, errors.New("PDF signature: /Contents is not a DER CMS padded with zeros")
	}
	h := sha256.New()
	h.Write(data[:c0])
	h.Write(data[c1:])
	cert, err := cmsVerify(outer.FullBytes, h.Sum(nil))
	if err != nil {
		return nil, err
	}
	return &PDFSignature{CertSHA256: certFingerprint(cert), Subject: cert.Subject.CommonName, Revision: rev}, nil
}
