package reports

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/internal/edkey"
)

// Meanings of an electronic signature (21 CFR §11.50(a)(3)).
var Meanings = []string{"review", "approval", "responsibility"}

// conflicting meanings: one person may not hold both on the same report.
var conflicting = map[string]string{"review": "approval", "approval": "review"}

func esMessage(es ESignature) []byte {
	return []byte(strings.Join([]string{"linewatch-esignature-v2", es.ReportDigest, es.User, es.Name, es.Role, es.Meaning,
		es.Time.UTC().Format(time.RFC3339Nano), es.KeyID, strconv.FormatUint(es.AuditSeq, 10), es.AuditHash}, "\x00"))
}

// describe names the i-th signature for a verification message, its time
// in the report's zone (f; nil: UTC).
func (es ESignature) describe(i int, f *display.Formatter) string {
	return fmt.Sprintf("electronic signature %d (%s, %s, %s)", i+1, es.Name, es.Meaning, f.Time(es.Time))
}

// auditNew is the New field of the report.signed entry of es.
func auditNew(meaning, digest, role string) string {
	return "meaning=" + meaning + " report_digest=" + digest + " role=" + role
}

// verifyESignatures checks that every signature is bound to this report
// and sealed by a trusted signing-service key.
func verifyESignatures(r *Report, keys edkey.Keyring) []error {
	if len(r.Signatures) == 0 {
		return nil
	}
	digest, err := r.unsignedDigest()
	if err != nil {
		return []error{err}
	}
	return checkESignatures(r.Signatures, digest, Meanings, func(i int) []byte { return esMessage(r.Signatures[i]) }, keys, formatter(r))
}

// checkESignatures checks sigs against the digest of their report without
// signatures; message(i) is what the seal of sigs[i] signs in the
// report's schema.
func checkESignatures(sigs []ESignature, digest string, meanings []string, message func(i int) []byte, keys edkey.Keyring, f *display.Formatter) []error {
	var errs []error
	for i, es := range sigs {
		who := es.describe(i, f)
		if es.ReportDigest != digest {
			errs = append(errs, fmt.Errorf("%s is bound to another report (digest %s…, this report %s…): it was copied", who, prefix16(es.ReportDigest), digest[:16]))
		}
		if !slices.Contains(meanings, es.Meaning) {
			errs = append(errs, fmt.Errorf("%s: unknown meaning", who))
		}
		key, ok := keys[es.KeyID]
		seal, err := base64.StdEncoding.Strict().DecodeString(es.Seal)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: sealed by key %s, which is not a trusted signing-service key (pass --audit-key or -c CONFIG): it was not made by the signing service", who, es.KeyID))
		case err != nil || len(seal) != ed25519.SignatureSize || !ed25519.Verify(key, message(i), seal):
			errs = append(errs, fmt.Errorf("%s: seal does not verify: the signature was edited or forged", who))
		}
	}
	return errs
}

// CrossCheck compares every electronic signature of r with the audit
// trail: the report.signed entry the signature names must exist with the
// same hash, signer, time, meaning and report digest. Verify the entries
// (audit.VerifyAnchored) first; CrossCheck trusts them.
func CrossCheck(r *Report, entries []audit.Entry) []error {
	return crossCheck(r.Signatures, entries, formatter(r))
}

// crossCheck is CrossCheck of sigs, times written with f (nil: UTC).
func crossCheck(sigs []ESignature, entries []audit.Entry, f *display.Formatter) []error {
	bySeq := make(map[uint64]audit.Entry, len(entries))
	for _, e := range entries {
		bySeq[e.Seq] = e
	}
	var errs []error
	for i, es := range sigs {
		e, ok := bySeq[es.AuditSeq]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s has no matching audit entry (it names seq %d, which is not in the audit trail read)", es.describe(i, f), es.AuditSeq))
		case e.Hash != es.AuditHash || e.Action != audit.ActionReportSigned || e.Actor != es.User || !e.Time.Equal(es.Time) ||
			e.New != auditNew(es.Meaning, es.ReportDigest, es.Role):
			errs = append(errs, fmt.Errorf("%s has no matching audit entry (seq %d is %s by %s at %s: %s)", es.describe(i, f), es.AuditSeq,
				e.Action, e.Actor, f.Time(e.Time), e.New))
		}
	}
	return errs
}

// SealMessage is what a signature's seal signs (for tools and tests).
func SealMessage(es ESignature) []byte { return esMessage(es) }

// Unrecorded lists the report.signed entries of this report (same digest
// without signatures) whose signature the file does not carry: an older
// copy, or a signature removed by someone who re-sealed the file.
func Unrecorded(r *Report, entries []audit.Entry) []audit.Entry {
	digest, err := r.unsignedDigest()
	if err != nil {
		return nil
	}
	return unrecorded(digest, r.Signatures, entries)
}

func unrecorded(digest string, sigs []ESignature, entries []audit.Entry) []audit.Entry {
	carried := map[uint64]bool{}
	for _, es := range sigs {
		carried[es.AuditSeq] = true
	}
	var out []audit.Entry
	for _, e := range entries {
		if e.Action == audit.ActionReportSigned && strings.Contains(e.New, " report_digest="+digest+" ") && !carried[e.Seq] {
			out = append(out, e)
		}
	}
	return out
}
