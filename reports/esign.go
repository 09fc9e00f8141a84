package reports

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/identity"
)

// Meanings of an electronic signature (21 CFR §11.50(a)(3)).
var Meanings = []string{"review", "approval", "responsibility"}

// SignRequest is an electronic signature to add to a report file.
type SignRequest struct {
	User     string
	Password []byte
	Meaning  string
	// UsersFile is config.Console.UsersFile.
	UsersFile string
	Key       ed25519.PrivateKey
	Audit     AuditAppender
	Now       func() time.Time
}

// ErrBadCredentials is returned (and audited) when the user or password
// is wrong; it does not say which.
var ErrBadCredentials = errors.New("electronic signature refused: unknown user or wrong password")

// Sign verifies the report file (it must be intact and signed by req.Key),
// checks the signer's password against the users file, adds the
// electronic signature bound to the report's digest, records it in the
// audit trail and returns the file re-rendered in the same format with the
// signature manifestation.
func Sign(ctx context.Context, data []byte, req SignRequest) ([]byte, ESignature, error) {
	var es ESignature
	if req.Now == nil {
		req.Now = time.Now
	}
	if !slices.Contains(Meanings, req.Meaning) {
		return nil, es, fmt.Errorf("signature meaning %q: use one of %s", req.Meaning, strings.Join(Meanings, ", "))
	}
	if req.Audit == nil {
		return nil, es, errors.New("electronic signatures must be recorded in the audit trail: no audit trail connected")
	}
	pub := req.Key.Public().(ed25519.PublicKey)
	v, err := Verify(data, pub)
	if err != nil {
		return nil, es, fmt.Errorf("the report does not verify, it cannot be signed: %w", err)
	}
	r := v.Report
	object := fmt.Sprintf("report:%s/%s/%s", r.Header.Site, r.Header.Line, r.Header.Batch)
	users, err := identity.LoadUsers(req.UsersFile)
	if err != nil {
		return nil, es, fmt.Errorf("%w (console.users_file)", err)
	}
	u, ok := users.Check(req.User, string(req.Password))
	if !ok {
		_, aerr := req.Audit.Append(ctx, audit.Entry{Time: req.Now().UTC(), Actor: req.User, Action: audit.ActionReportSigned + ".denied",
			Object: object, Reason: "wrong user or password for meaning " + req.Meaning})
		return nil, es, errors.Join(ErrBadCredentials, aerr)
	}
	digest, err := r.unsignedDigest()
	if err != nil {
		return nil, es, err
	}
	es = ESignature{User: u.Name, Name: u.PrintedName, Role: u.Role, Meaning: req.Meaning, Time: req.Now().UTC(),
		ReportDigest: digest, KeyID: KeyID(pub)}
	es.Seal = base64.StdEncoding.EncodeToString(ed25519.Sign(req.Key, esMessage(es)))
	r.Signatures = append(r.Signatures, es)
	out, err := Render(r, v.Format, req.Key, req.Now())
	if err != nil {
		return nil, es, err
	}
	if _, err := req.Audit.Append(ctx, audit.Entry{Time: es.Time, Actor: u.Name, Action: audit.ActionReportSigned, Object: object,
		New: "meaning=" + es.Meaning + " report_digest=" + digest, Reason: es.Meaning}); err != nil {
		return nil, es, fmt.Errorf("record the signature in the audit trail (report not changed): %w", err)
	}
	return out, es, nil
}

func esMessage(es ESignature) []byte {
	return []byte(strings.Join([]string{"linewatch-esignature-v1", es.ReportDigest, es.User, es.Name, es.Role, es.Meaning,
		es.Time.UTC().Format(time.RFC3339Nano), es.KeyID}, "\x00"))
}

// verifyESignatures checks that every signature is bound to this report
// and sealed by key.
func verifyESignatures(r *Report, key ed25519.PublicKey) []error {
	if len(r.Signatures) == 0 {
		return nil
	}
	digest, err := r.unsignedDigest()
	if err != nil {
		return []error{err}
	}
	var errs []error
	for i, es := range r.Signatures {
		who := fmt.Sprintf("electronic signature %d (%s, %s, %s)", i+1, es.Name, es.Meaning, es.Time.UTC().Format(time.RFC3339))
		if es.ReportDigest != digest {
			errs = append(errs, fmt.Errorf("%s is bound to another report (digest %s…, this report %s…): it was copied", who, prefix16(es.ReportDigest), digest[:16]))
		}
		if !slices.Contains(Meanings, es.Meaning) {
			errs = append(errs, fmt.Errorf("%s: unknown meaning", who))
		}
		seal, err := base64.StdEncoding.Strict().DecodeString(es.Seal)
		switch {
		case key == nil || len(key) != ed25519.PublicKeySize:
			errs = append(errs, fmt.Errorf("%s: no valid key to check its seal", who))
		case err != nil || len(seal) != ed25519.SignatureSize || !ed25519.Verify(key, esMessage(es), seal):
			errs = append(errs, fmt.Errorf("%s: seal does not verify: the signature was edited or forged", who))
		}
	}
	return errs
}
