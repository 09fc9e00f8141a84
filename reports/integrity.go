package reports

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/internal/edkey"
)

// Integrity scheme (docs/reports.md): every rendering contains, last in the
// file, one integrity block
//
//	lw-integrity-v1:<BlockLen bytes: base64url(JSON Seal) padded with '.'>
//
// The file is rendered with a placeholder of '.'; FileSHA256 is the SHA-256
// of every byte of the file except the BlockLen bytes of the block (like
// the ByteRange of a PDF signature), so the block can be written in place
// without moving any other byte (PDF cross-reference offsets stay valid).
// The Ed25519 signature covers the format, the content digest (SHA-256 of
// the canonical report JSON, which every format embeds) and the file
// digest. Verification takes the last occurrence of the prefix; anything
// before it, including a forged prefix inside report text, is hashed.
const (
	BlockPrefix = "lw-integrity-v1:"
	BlockLen    = 1024
)

// Seal is the decoded integrity block.
type Seal struct {
	V             int       `json:"v"`
	Alg           string    `json:"alg"`
	KeyID         string    `json:"key_id"`
	PublicKey     string    `json:"public_key"` // base64, for key-id display; trust comes from --pubkey
	Format        string    `json:"format"`
	ContentSHA256 string    `json:"content_sha256"`
	FileSHA256    string    `json:"file_sha256"`
	SignedAt      time.Time `json:"signed_at"`
	// PDFCert is the SHA-256 of the certificate of the PDF's standard
	// signature (pades.go): the file digest of a PDF then covers the
	// sealed document up to its first %%EOF, and the PDF signature the
	// whole file.
	PDFCert   string `json:"pdf_cert_sha256,omitempty"`
	Signature string `json:"signature"` // base64
}

func (s Seal) message() []byte {
	parts := []string{"linewatch-report-v1", s.Alg, s.Format, s.ContentSHA256, s.FileSHA256, s.KeyID,
		s.PublicKey, s.SignedAt.UTC().Format(time.RFC3339Nano)}
	if s.PDFCert != "" {
		parts = append(parts, "pdf-cert-sha256="+s.PDFCert)
	}
	return []byte(strings.Join(parts, "\x00"))
}

// blockEncoding rejects non-zero trailing bits, so each block has one encoding.
var blockEncoding = base64.RawURLEncoding.Strict()

// placeholder is the block as rendered before sealing.
func placeholder() string { return BlockPrefix + strings.Repeat(".", BlockLen) }

// locate returns the offset of the block's BlockLen bytes (after the
// prefix) of the last integrity block in data.
func locate(data []byte) (int, error) {
	i := bytes.LastIndex(data, []byte(BlockPrefix))
	if i < 0 {
		return 0, errors.New("no integrity block (lw-integrity-v1) in the file: it was not produced by linewatch report, or the block was removed")
	}
	start := i + len(BlockPrefix)
	if len(data)-start < BlockLen {
		return 0, fmt.Errorf("integrity block at byte %d is truncated (%d of %d bytes)", i, len(data)-start, BlockLen)
	}
	return start, nil
}

// fileDigest hashes data without the block bytes at start.
func fileDigest(data []byte, start int) string {
	h := newSHA()
	h.Write(data[:start])
	h.Write(data[start+BlockLen:])
	return fmt.Sprintf("%x", h.Sum(nil))
}

// sealFile writes the integrity block into a rendered file in place;
// pdfCert is the fingerprint of the PDF signature's certificate ("" for
// the other formats).
func sealFile(data []byte, format, contentDigest, pdfCert string, key ed25519.PrivateKey, now time.Time) error {
	start, err := locate(data)
	if err != nil {
		return err
	}
	if string(data[start:start+BlockLen]) != strings.Repeat(".", BlockLen) {
		return errors.New("integrity block placeholder not found at the end of the rendering")
	}
	pub := key.Public().(ed25519.PublicKey)
	s := Seal{V: 1, Alg: "Ed25519", KeyID: KeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub), Format: format,
		ContentSHA256: contentDigest, FileSHA256: fileDigest(data, start), SignedAt: now.UTC(), PDFCert: pdfCert}
	s.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, s.message()))
	js, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("integrity block: %w", err)
	}
	enc := blockEncoding.EncodeToString(js)
	if len(enc) > BlockLen {
		return fmt.Errorf("integrity block: %d bytes exceed the %d reserved", len(enc), BlockLen)
	}
	copy(data[start:], enc)
	return nil
}

// readSeal decodes the block at start.
func readSeal(data []byte, start int) (Seal, error) {
	var s Seal
	raw := bytes.TrimRight(data[start:start+BlockLen], ".")
	js, err := blockEncoding.DecodeString(string(raw))
	if err != nil {
		return s, fmt.Errorf("integrity block is not valid base64url: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("integrity block JSON: %w", err)
	}
	if s.V != 1 || s.Alg != "Ed25519" {
		return s, fmt.Errorf("integrity block version %d / algorithm %q not supported (want 1 / Ed25519)", s.V, s.Alg)
	}
	// The block bytes are outside the file digest: accept only the exact
	// encoding linewatch writes, so not one of them can change unnoticed.
	if again, err := json.Marshal(s); err != nil || !bytes.Equal(again, js) {
		return s, errors.New("integrity block is not in the form linewatch writes: it was edited")
	}
	return s, nil
}

// Verification is what Verify found.
type Verification struct {
	Format        string
	KeyID         string
	Authenticated bool // checked against a trusted public key
	ContentSHA256 string
	SignedAt      time.Time
	// Schema is the schema version of the embedded report JSON: 2 (the
	// current one, Report) or 1 (an archived report, checked with the
	// frozen schema-1 model of v1.go; Report is then nil).
	Schema int
	Report *Report
	// Batch, Line and Signatures are read from the report of either
	// schema; UnsignedSHA256 is its digest without signatures, what each
	// electronic signature is bound to.
	Batch, Line    string
	Signatures     []ESignature
	UnsignedSHA256 string
	// PDF is the standard PDF signature of a PDF rendering (none in a
	// schema-1 PDF: it came with schema 2).
	PDF *PDFSignature
}

// CrossCheck compares the verified report's electronic signatures with the
// audit trail (see the CrossCheck function).
func (v *Verification) CrossCheck(entries []audit.Entry) []error {
	var f *display.Formatter // schema 1 names no zone: UTC
	if v.Report != nil {
		f = formatter(v.Report)
	}
	return crossCheck(v.Signatures, entries, f)
}

// Unrecorded lists the report.signed entries of the verified report whose
// signature the file does not carry (see the Unrecorded function).
func (v *Verification) Unrecorded(entries []audit.Entry) []audit.Entry {
	if v.UnsignedSHA256 == "" {
		return nil
	}
	return unrecorded(v.UnsignedSHA256, v.Signatures, entries)
}

// Verify checks a report file with the trusted report key and no trusted
// signing-service key (any electronic signature then fails); see
// VerifyWith.
func Verify(data []byte, trusted ed25519.PublicKey) (*Verification, error) {
	return VerifyWith(data, VerifyOptions{ReportKey: trusted})
}

// VerifyOptions are the keys a verifier trusts.
type VerifyOptions struct {
	// ReportKey is the report signing key (nil: check only against the key
	// embedded in the file; Authenticated false).
	ReportKey ed25519.PublicKey
	// SignerKeys are the signing services' keys that seal electronic
	// signatures (the audit keys).
	SignerKeys edkey.Keyring
}

// VerifyWith checks a report file: integrity block present and well
// formed, file digest, Ed25519 signature, the embedded canonical report
// against the content digest, that it is canonical, and every electronic
// signature's binding and seal. The error lists every failure.
func VerifyWith(data []byte, o VerifyOptions) (*Verification, error) {
	trusted := o.ReportKey
	start, err := locate(data)
	if err != nil {
		return nil, err
	}
	s, err := readSeal(data, start)
	if err != nil {
		return nil, err
	}
	v := &Verification{Format: s.Format, KeyID: s.KeyID, ContentSHA256: s.ContentSHA256, SignedAt: s.SignedAt}
	var errs []error
	if f := DetectFormat(data); f != s.Format {
		errs = append(errs, fmt.Errorf("the file looks like %s but its integrity block was made for %s", f, s.Format))
	}
	sealed := data
	if s.PDFCert != "" {
		rev := pdfRevisionEnd(data, start)
		sealed = data[:rev]
		ps, err := verifyPDFSignature(data, rev)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ps.CertSHA256 != s.PDFCert:
			errs = append(errs, fmt.Errorf("PDF signature: made with certificate %s…, the integrity block names %s…: it was replaced", ps.CertSHA256[:16], prefix16(s.PDFCert)))
		default:
			v.PDF = ps
		}
	}
	// A schema-1 PDF predates the PDF signature; the Ed25519 seal binds
	// both the absence of a certificate and the content's schema version,
	// so a schema-2 PDF cannot pass for one.
	pdfUnsigned := s.PDFCert == "" && s.Format == "pdf"
	if got := fileDigest(sealed, start); got != s.FileSHA256 {
		errs = append(errs, fmt.Errorf("file digest mismatch: the file was changed after signing (SHA-256 %s…, signed %s…)", got[:16], prefix16(s.FileSHA256)))
	}
	embedded, perr := base64.StdEncoding.Strict().DecodeString(s.PublicKey)
	sig, serr := base64.StdEncoding.Strict().DecodeString(s.Signature)
	key := ed25519.PublicKey(embedded)
	if trusted != nil {
		key = trusted
		if KeyID(trusted) != s.KeyID {
			errs = append(errs, fmt.Errorf("signed with key %s, not with the trusted key %s", s.KeyID, KeyID(trusted)))
		}
	} else if perr != nil || len(embedded) != ed25519.PublicKeySize || KeyID(embedded) != s.KeyID {
		errs = append(errs, errors.New("embedded public key is malformed or does not match its key id"))
		key = nil
	}
	switch {
	case serr != nil || len(sig) != ed25519.SignatureSize:
		errs = append(errs, errors.New("signature is malformed"))
	case key == nil || len(key) != ed25519.PublicKeySize:
	case !ed25519.Verify(key, s.message(), sig):
		errs = append(errs, fmt.Errorf("Ed25519 signature does not verify with key %s: the integrity block was altered or forged", KeyID(key)))
	default:
		v.Authenticated = trusted != nil
	}
	canon, cerr := ExtractCanonical(data, s.Format)
	if cerr != nil {
		errs = append(errs, cerr)
	} else {
		if got := sha256Hex(canon); got != s.ContentSHA256 {
			errs = append(errs, fmt.Errorf("content digest mismatch: embedded report JSON hashes to %s…, signed %s…", got[:16], prefix16(s.ContentSHA256)))
		}
		errs = append(errs, v.parseVerify(canon, o.SignerKeys)...)
	}
	if pdfUnsigned && v.Schema != schemaV1 {
		errs = append(errs, errors.New("PDF without its standard PDF signature (the integrity block names no PDF signing certificate)"))
	}
	return v, errors.Join(errs...)
}

// parseVerify decodes the embedded report by its schema version and checks
// its electronic signatures.
func (v *Verification) parseVerify(canon []byte, keys edkey.Keyring) []error {
	var head struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(canon, &head); err != nil {
		return []error{fmt.Errorf("embedded report JSON: %w", err)}
	}
	switch head.V {
	case SchemaVersion:
		r, err := ParseCanonical(canon)
		if err != nil {
			return []error{err}
		}
		v.Schema, v.Report, v.Batch, v.Line, v.Signatures = SchemaVersion, r, r.Header.Batch, r.Header.Line, r.Signatures
		if v.UnsignedSHA256, err = r.unsignedDigest(); err != nil {
			return []error{err}
		}
		return verifyESignatures(r, keys)
	case schemaV1:
		r, err := parseCanonicalV1(canon)
		if err != nil {
			return []error{err}
		}
		v.Schema, v.Batch, v.Line = schemaV1, r.Header.Batch, r.Header.Line
		for _, es := range r.Signatures {
			v.Signatures = append(v.Signatures, es.current())
		}
		digest, errs := verifyESignaturesV1(r, keys)
		v.UnsignedSHA256 = digest
		return errs
	}
	return []error{fmt.Errorf("embedded report JSON: schema version %d not supported (this linewatch verifies schema 1 and %d)", head.V, SchemaVersion)}
}

func prefix16(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// ParseCanonical decodes a canonical report JSON strictly and checks that
// it is canonical (re-encodes to the same bytes).
func ParseCanonical(canon []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("embedded report JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("embedded report JSON: trailing data")
	}
	if r.V != SchemaVersion {
		// Verify (parseVerify) checks schema-1 reports too; everything
		// else (signing, re-rendering) needs the current model.
		return nil, fmt.Errorf("embedded report JSON: schema version %d not supported (want %d; `report verify` checks schema 1 too, but a report is signed only in the current schema)", r.V, SchemaVersion)
	}
	again, err := r.Canonical()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, canon) {
		return nil, errors.New("embedded report JSON is not in canonical form (it was edited)")
	}
	return &r, nil
}

// DetectFormat guesses the rendering of a report file from its bytes.
func DetectFormat(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return "pdf"
	case bytes.HasPrefix(data, []byte("{")):
		return "json"
	case bytes.HasPrefix(data, []byte("<!DOCTYPE html>")):
		return "html"
	default:
		return "csv"
	}
}
