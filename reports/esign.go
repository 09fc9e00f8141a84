package reports

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/linewatch/linewatch/audit"
)

// Meanings of an electronic signature (21 CFR §11.50(a)(3)).
var Meanings = []string{"review", "approval", "responsibility"}

// User is one line of the users file: "user:role:bcrypt-hash[:printed name]".
type User struct {
	Name, Role, Hash, PrintedName string
}

// ParseUsers reads a users file. Blank lines and lines starting with #
// are skipped; any other malformed line is an error naming it.
func ParseUsers(data []byte) (map[string]User, error) {
	out := map[string]User{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		if len(parts) < 3 || parts[0] == "" || !strings.HasPrefix(parts[2], "$2") {
			return nil, fmt.Errorf("users file line %d: want user:role:bcrypt-hash[:printed name]", n)
		}
		u := User{Name: parts[0], Role: parts[1], Hash: parts[2], PrintedName: parts[0]}
		if len(parts) == 4 && strings.TrimSpace(parts[3]) != "" {
			u.PrintedName = strings.TrimSpace(parts[3])
		}
		if _, dup := out[u.Name]; dup {
			return nil, fmt.Errorf("users file line %d: user %q appears twice", n, u.Name)
		}
		out[u.Name] = u
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	return out, nil
}

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
	raw, err := os.ReadFile(req.UsersFile)
	if err != nil {
		return nil, es, fmt.Errorf("users file (console.users_file): %w", err)
	}
	users, err := ParseUsers(raw)
	if err != nil {
		return nil, es, err
	}
	u, ok := users[req.User]
	// Compare against a dummy hash for unknown users too, so the time
	// taken does not reveal which user names exist.
	hash := []byte(u.Hash)
	if !ok {
		hash = []byte("$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z3nd/fN7mnr8y6nbWsCUeLLe")
	}
	if bcrypt.CompareHashAndPassword(hash, req.Password) != nil || !ok {
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
