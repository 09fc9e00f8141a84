package reports

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
)

// NewSignMsg prepares the signing request for a report file: its integrity
// block and its canonical JSON, gzip-compressed, and the password encrypted
// to the service's key `to` (RequestSignKey). The signer's process reads no
// private key.
func NewSignMsg(data []byte, user, password, meaning string, to *[32]byte) (SignMsg, error) {
	start, seal, canon, err := fileParts(data)
	if err != nil {
		return SignMsg{}, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(canon)
	if err := zw.Close(); err != nil {
		return SignMsg{}, fmt.Errorf("compress report JSON: %w", err)
	}
	m := SignMsg{V: signMsgSchema, User: user, Meaning: meaning, Format: seal.Format,
		Block: string(data[start : start+BlockLen]), Canonical: gz.Bytes()}
	if to != nil {
		if m.PasswordBox, err = sealPassword(m, password, to); err != nil {
			return SignMsg{}, err
		}
	}
	return m, nil
}

// ApplySignature re-renders the report file with the signature the service
// returned and puts in the service's integrity block; the result must
// verify byte for byte (same linewatch version on both sides).
func ApplySignature(data []byte, rep SignReply) ([]byte, error) {
	if rep.Code != SignOK || rep.Signature == nil || len(rep.Block) != BlockLen {
		return nil, fmt.Errorf("no signature in the reply: %s: %s", rep.Code, rep.Message)
	}
	_, seal, canon, err := fileParts(data)
	if err != nil {
		return nil, err
	}
	r, err := ParseCanonical(canon)
	if err != nil {
		return nil, err
	}
	r.Signatures = append(r.Signatures, *rep.Signature)
	out, canon, err := renderUnsealed(r, seal.Format)
	if err != nil {
		return nil, err
	}
	start, err := locate(out)
	if err != nil {
		return nil, err
	}
	copy(out[start:], rep.Block)
	ns, err := readSeal(out, start)
	if err != nil {
		return nil, err
	}
	if ns.FileSHA256 != fileDigest(out, start) || ns.ContentSHA256 != sha256Hex(canon) {
		return nil, errors.New("the signed file rendered here differs from the signing service's: use the same linewatch version as the service (the signature is recorded in the audit trail; sign again after upgrading)")
	}
	if ns.PDFCert != "" {
		rev := len(out)
		out = append(out, rep.PDFUpdate...)
		ps, err := verifyPDFSignature(out, rev)
		if err != nil {
			return nil, fmt.Errorf("the signing service's PDF signature: %w", err)
		}
		if ps.CertSHA256 != ns.PDFCert {
			return nil, errors.New("the signing service's PDF signature is not made with the certificate its integrity block names")
		}
	}
	return out, nil
}

// fileParts finds a report file's integrity block, its seal and the
// embedded canonical JSON.
func fileParts(data []byte) (start int, seal Seal, canon []byte, err error) {
	if start, err = locate(data); err != nil {
		return 0, seal, nil, err
	}
	if seal, err = readSeal(data, start); err != nil {
		return 0, seal, nil, err
	}
	canon, err = ExtractCanonical(data, seal.Format)
	return start, seal, canon, err
}
