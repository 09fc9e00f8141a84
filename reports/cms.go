package reports

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sort"
)

// CMS (RFC 5652) detached SignedData for the PDF signature, in the form
// PAdES baseline B-B asks for (ETSI EN 319 142-1 §6.3, ETSI TS 119 182…):
// one signer, SHA-256, signed attributes content-type, message-digest and
// ESS signing-certificate-v2 (RFC 5035), and no signing-time attribute
// (the signing time is the /M entry of the signature dictionary). Written
// with encoding/asn1: no kept Go module covers CMS signing (the ones that
// do are unmaintained forks), and the structure is small and fixed.

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	errCMSNotLinewatchForm = errors.New("PDF signature: the CMS SignedData is not in the form linewatch writes")
)

type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type cmsEncapContent struct {
	ContentType asn1.ObjectIdentifier // id-data, content absent (detached)
}

type cmsSignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo cmsEncapContent
	Certificates     asn1.RawValue   `asn1:"tag:0"`
	SignerInfos      []cmsSignerInfo `asn1:"set"`
}

type cmsIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type cmsSignerInfo struct {
	Version            int
	SID                cmsIssuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type cmsAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF AttributeValue, one value
}

// essCertIDv2 with the default hash algorithm (SHA-256) left out.
type essCertIDv2 struct {
	CertHash []byte
}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

func mustDER(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // fixed structures: a failure is a programming error
	}
	return b
}

func attribute(oid asn1.ObjectIdentifier, value []byte) []byte {
	return mustDER(cmsAttribute{Type: oid, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: value}})
}

// derSet encodes a SET OF from encoded elements, sorted as DER requires.
func derSet(elems [][]byte) []byte {
	sorted := make([][]byte, len(elems))
	copy(sorted, elems)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	return mustDER(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(sorted, nil)})
}

// signedAttrs returns the DER SET of the signed attributes: what the
// signature covers (RFC 5652 §5.4).
func signedAttrs(digest []byte, cert *x509.Certificate) []byte {
	certHash := sha256.Sum256(cert.Raw)
	return derSet([][]byte{
		attribute(oidAttrContentType, mustDER(oidData)),
		attribute(oidAttrMessageDigest, mustDER(digest)),
		attribute(oidAttrSigningCertV2, mustDER(signingCertificateV2{Certs: []essCertIDv2{{CertHash: certHash[:]}}})),
	})
}

// cmsSign returns a DER ContentInfo holding a detached SignedData over
// content digest (SHA-256) by key with cert.
func cmsSign(digest []byte, key *ecdsa.PrivateKey, cert *x509.Certificate) ([]byte, error) {
	attrs := signedAttrs(digest, cert)
	h := sha256.Sum256(attrs)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("PDF signature: %w", err)
	}
	// In SignerInfo the SET is written with the [0] IMPLICIT tag.
	implicit := append([]byte{0xa0}, attrs[1:]...)
	sha := pkix.AlgorithmIdentifier{Algorithm: oidSHA256}
	sd := cmsSignedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{sha},
		EncapContentInfo: cmsEncapContent{ContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cert.Raw},
		SignerInfos: []cmsSignerInfo{{
			Version:            1,
			SID:                cmsIssuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
			DigestAlgorithm:    sha,
			SignedAttrs:        asn1.RawValue{FullBytes: implicit},
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256},
			Signature:          sig,
		}},
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("PDF signature: %w", err)
	}
	return asn1.Marshal(cmsContentInfo{ContentType: oidSignedData, Content: asn1.RawValue{FullBytes: append(explicitHeader(len(inner)), inner...)}})
}

// explicitHeader is the [0] EXPLICIT tag and length of n content bytes.
func explicitHeader(n int) []byte {
	b := mustDER(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: make([]byte, n)})
	return b[:len(b)-n]
}

// cmsVerify checks a DER ContentInfo written by cmsSign: one signer, its
// certificate, the message digest equal to digest, the signing-certificate
// attribute naming that certificate, and the ECDSA signature. It returns
// the certificate.
func cmsVerify(der, digest []byte) (*x509.Certificate, error) {
	var ci cmsContentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("PDF signature: CMS ContentInfo: %v", orForm(err))
	}
	var sd cmsSignedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("PDF signature: CMS SignedData: %v", orForm(err))
	}
	if len(sd.SignerInfos) != 1 || !sd.EncapContentInfo.ContentType.Equal(oidData) {
		return nil, errCMSNotLinewatchForm
	}
	cert, err := x509.ParseCertificate(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PDF signature: certificate: %w", err)
	}
	si := sd.SignerInfos[0]
	if !si.DigestAlgorithm.Algorithm.Equal(oidSHA256) || !si.SignatureAlgorithm.Algorithm.Equal(oidECDSAWithSHA256) ||
		!bytes.Equal(si.SID.Issuer.FullBytes, cert.RawIssuer) || si.SID.Serial == nil || si.SID.Serial.Cmp(cert.SerialNumber) != 0 {
		return nil, errCMSNotLinewatchForm
	}
	if len(si.SignedAttrs.FullBytes) < 2 || si.SignedAttrs.FullBytes[0] != 0xa0 {
		return nil, errCMSNotLinewatchForm
	}
	attrs := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	// The attributes must be exactly those linewatch writes for this
	// digest and certificate: nothing else can hide in the signed part.
	if !bytes.Equal(attrs, signedAttrs(digest, cert)) {
		return nil, errors.New("PDF signature: the signed attributes do not match the document (message digest or signing certificate): the PDF was changed after signing")
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errCMSNotLinewatchForm
	}
	h := sha256.Sum256(attrs)
	if !ecdsa.VerifyASN1(pub, h[:], si.Signature) {
		return nil, errors.New("PDF signature: the ECDSA signature does not verify: the signature was altered or forged")
	}
	return cert, nil
}

func orForm(err error) error {
	if err != nil {
		return err
	}
	return errCMSNotLinewatchForm
}
