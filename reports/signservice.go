package reports

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/edkey"
)

// SignSubject is where the signing service answers e-signature requests
// (NATS request-reply, queue group "linewatch-sign").
const SignSubject = "linewatch.cmd.reports.sign"

// ActionReportSignDenied is the audit action of a refused signing.
const ActionReportSignDenied = audit.ActionReportSigned + ".denied"

// MaxCanonical bounds the decompressed report JSON of a request.
const MaxCanonical = 64 << 20

// SignMsg is a signing request: who (password re-entered for this signing,
// 21 CFR 11.200(a)(1)), the meaning, and the report — its integrity block
// and its canonical JSON (gzip), not the whole file, so that a large PDF
// fits the NATS payload limit.
type SignMsg struct {
	V int `json:"v"`
	// KeyRequest asks only for the service's encryption key (SignReply.Key).
	KeyRequest bool   `json:"key_request,omitempty"`
	User       string `json:"user,omitempty"`
	// PasswordBox is the password, encrypted to the service's key and
	// bound to this request (see signcrypt.go).
	PasswordBox string `json:"password_box,omitempty"`
	Meaning     string `json:"meaning"`
	Format      string `json:"format,omitempty"`
	Block       string `json:"block,omitempty"`        // the file's integrity block (after lw-integrity-v1:)
	Canonical   []byte `json:"canonical_gz,omitempty"` // gzip of the canonical report JSON
}

// Reply codes.
const (
	SignOK        = "ok"
	SignDenied    = "denied"
	SignInvalid   = "invalid"
	SignInternal  = "internal_error"
	signMsgSchema = 1
)

// SignReply is the service's answer: the sealed signature and the new
// integrity block of the file re-rendered with it.
type SignReply struct {
	V         int         `json:"v"`
	Code      string      `json:"code"`
	Message   string      `json:"message"`
	Signature *ESignature `json:"signature,omitempty"`
	Block     string      `json:"block,omitempty"`
	Key       *SignKey    `json:"key,omitempty"` // answer to a key request
	// PDFUpdate is, for a PDF, the standard PDF signature appended after
	// the sealed document (its ECDSA signature is not reproducible).
	PDFUpdate []byte `json:"pdf_update,omitempty"`
}

// Auditor is the audit trail as the signing service uses it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	// AppendAfter appends only while prev is the last entry (audit.ErrHeadMoved otherwise).
	AppendAfter(ctx context.Context, e audit.Entry, prev *audit.Entry) (audit.Entry, error)
	Head(ctx context.Context) (*audit.Entry, error)
	Range(ctx context.Context, since, until time.Time) ([]audit.Entry, error)
}

// SignServiceOptions configure a SignService.
type SignServiceOptions struct {
	// Passwords re-checks the signer's password (21 CFR 11.200) with the
	// same attempt limits as a login: pass the alarm service's
	// (identity.Authority.Passwords), so guesses through signing requests
	// count against the same budget.
	Passwords *identity.Passwords
	// Roles returns the users-file roles allowed to sign with a meaning
	// (config.Reports.Signatures.For).
	Roles func(meaning string) []string
	// ReportKey seals report files; SealKey (the audit key) seals
	// electronic signatures. Signers hold neither.
	ReportKey ed25519.PrivateKey
	SealKey   ed25519.PrivateKey
	// Trusted are the signing-service keys whose earlier signatures a
	// report may carry (SealKey's public key is added).
	Trusted edkey.Keyring
	Audit   Auditor
	Now     func() time.Time
	Logger  *slog.Logger
}

// SignService adds electronic signatures to reports for authenticated
// signers: it checks the password and role at each signing, separation of
// duties, records the signing in the audit trail, and only then seals.
type SignService struct {
	o  SignServiceOptions
	mu sync.Mutex // one signing at a time: the duty check and the append are one step
	// ready is closed once Serve takes requests (Ready).
	ready     chan struct{}
	readyOnce sync.Once
}

// Ready is closed once Serve has subscribed and the NATS server has the
// subscription: a request sent after it finds a responder instead of
// failing with "no responders".
func (s *SignService) Ready() <-chan struct{} { return s.ready }

// NewSignService checks the options.
func NewSignService(o SignServiceOptions) (*SignService, error) {
	if o.Passwords == nil || o.Roles == nil || o.Audit == nil || len(o.ReportKey) != ed25519.PrivateKeySize || len(o.SealKey) != ed25519.PrivateKeySize {
		return nil, errors.New("report signing service: users file, roles, audit trail, report key and seal key are all required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	keys := edkey.Keyring{}
	for id, k := range o.Trusted {
		keys[id] = k
	}
	keys.Add(o.SealKey.Public().(ed25519.PublicKey))
	o.Trusted = keys
	return &SignService{o: o, ready: make(chan struct{})}, nil
}

// Serve answers SignSubject until ctx ends.
func (s *SignService) Serve(ctx context.Context, nc *nats.Conn) error {
	sub, err := nc.QueueSubscribe(SignSubject, "linewatch-sign", func(m *nats.Msg) {
		var rep SignReply
		var req SignMsg
		dec := json.NewDecoder(bytes.NewReader(m.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			rep = SignReply{V: signMsgSchema, Code: SignInvalid, Message: "sign request JSON: " + err.Error()}
		} else {
			rep = s.Sign(ctx, req)
		}
		data, _ := json.Marshal(rep)
		m.Respond(data)
	})
	if err != nil {
		return fmt.Errorf("report signing service: subscribe %s: %w", SignSubject, err)
	}
	// Flushed, the server has the subscription; not connected now, the
	// client sends it again on reconnecting.
	_ = nc.FlushTimeout(10 * time.Second)
	s.readyOnce.Do(func() { close(s.ready) })
	<-ctx.Done()
	return sub.Drain()
}

// Sign handles one request.
func (s *SignService) Sign(ctx context.Context, req SignMsg) SignReply {
	no := func(code, format string, args ...any) SignReply {
		return SignReply{V: signMsgSchema, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	if req.V != signMsgSchema {
		return no(SignInvalid, "sign request version v=%d, this service speaks v=%d", req.V, signMsgSchema)
	}
	if req.KeyRequest {
		k := announceKey(s.o.SealKey)
		return SignReply{V: signMsgSchema, Code: SignOK, Message: "encryption key", Key: &k}
	}
	r, err := s.authenticReport(req)
	if err != nil {
		return no(SignInvalid, "the report cannot be signed: %v", err)
	}
	object := fmt.Sprintf("report:%s/%s/%s", r.Header.Site, r.Header.Line, r.Header.Batch)
	now := s.o.Now().UTC()
	deny := func(reason string) SignReply {
		_, aerr := s.o.Audit.Append(ctx, audit.Entry{Time: now, Actor: req.User, Action: ActionReportSignDenied, Object: object,
			New: "meaning=" + req.Meaning, Reason: reason})
		if aerr != nil {
			s.o.Logger.Error("audit of a refused signing failed", "user", req.User, "err", aerr)
		}
		return no(SignDenied, "electronic signature refused: %s", reason)
	}
	if !slices.Contains(Meanings, req.Meaning) {
		return no(SignInvalid, "signature meaning %q: use one of %s", req.Meaning, strings.Join(Meanings, ", "))
	}
	password, ok := openPassword(req, s.o.SealKey)
	if !ok {
		return deny("the password is not encrypted to this service for this request")
	}
	u, err := s.o.Passwords.Check(ctx, req.User, password, "sign")
	var ae *identity.AuthError
	switch {
	case errors.As(err, &ae) && ae.Code == identity.CodeRateLimited:
		return deny(ae.Message)
	case errors.As(err, &ae) && ae.Code == identity.CodeBadCredentials:
		return deny("unknown user or wrong password")
	case err != nil:
		return no(SignInternal, "password check: %v", err)
	}
	allowed := s.o.Roles(req.Meaning)
	if !slices.Contains(allowed, u.Role) {
		return deny(fmt.Sprintf("role %q of %s may not sign with meaning %q (reports.signatures.%s: %s)", u.Role, u.Name, req.Meaning, req.Meaning, strings.Join(allowed, ", ")))
	}
	digest, err := r.unsignedDigest()
	if err != nil {
		return no(SignInternal, "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The duty check and the append are one step, also across service
	// workers: the entry is stored only if the trail did not move since
	// it was read.
	var e audit.Entry
	for attempt := 1; ; attempt++ {
		head, err := s.o.Audit.Head(ctx)
		if err != nil {
			return no(SignInternal, "read the audit trail: %v", err)
		}
		if why, err := s.dutyConflict(ctx, r, digest, u.Name, req.Meaning); err != nil {
			return no(SignInternal, "read the audit trail: %v", err)
		} else if why != "" {
			return deny(why)
		}
		e, err = s.o.Audit.AppendAfter(ctx, audit.Entry{Time: now, Actor: u.Name, Action: audit.ActionReportSigned, Object: object,
			New: auditNew(req.Meaning, digest, u.Role), Reason: req.Meaning}, head)
		if err == nil {
			break
		}
		if !errors.Is(err, audit.ErrHeadMoved) || attempt >= 50 || ctx.Err() != nil {
			return no(SignInternal, "record the signature in the audit trail (nothing signed): %v", err)
		}
	}
	es := ESignature{User: u.Name, Name: u.PrintedName, Role: u.Role, Meaning: req.Meaning, Time: e.Time, ReportDigest: digest,
		KeyID: edkey.KeyID(s.o.SealKey.Public().(ed25519.PublicKey)), AuditSeq: e.Seq, AuditHash: e.Hash}
	es.Seal = base64.StdEncoding.EncodeToString(ed25519.Sign(s.o.SealKey, esMessage(es)))
	r.Signatures = append(r.Signatures, es)
	out, err := Render(r, req.Format, s.o.ReportKey, now)
	if err != nil {
		return no(SignInternal, "re-render the signed report (the signing is recorded as audit seq %d): %v", e.Seq, err)
	}
	start, _ := locate(out)
	s.o.Logger.Info("report signed", "user", u.Name, "meaning", req.Meaning, "report", object, "audit_seq", e.Seq)
	rep := SignReply{V: signMsgSchema, Code: SignOK, Message: fmt.Sprintf("signed by %s (%s) for %s", u.PrintedName, u.Name, req.Meaning),
		Signature: &es, Block: string(out[start : start+BlockLen])}
	if req.Format == "pdf" {
		rep.PDFUpdate = out[pdfRevisionEnd(out, start):]
	}
	return rep
}

// authenticReport checks that the request carries a report sealed with the
// report key, with valid earlier signatures.
func (s *SignService) authenticReport(req SignMsg) (*Report, error) {
	if len(req.Block) != BlockLen {
		return nil, fmt.Errorf("integrity block of %d bytes, want %d", len(req.Block), BlockLen)
	}
	seal, err := readSeal([]byte(req.Block), 0)
	if err != nil {
		return nil, err
	}
	pub := s.o.ReportKey.Public().(ed25519.PublicKey)
	sig, err := base64.StdEncoding.Strict().DecodeString(seal.Signature)
	if err != nil || seal.KeyID != edkey.KeyID(pub) || seal.Format != req.Format || !ed25519.Verify(pub, seal.message(), sig) {
		return nil, fmt.Errorf("it is not a %s report sealed with this service's report key %s", req.Format, edkey.KeyID(pub))
	}
	zr, err := gzip.NewReader(bytes.NewReader(req.Canonical))
	if err != nil {
		return nil, fmt.Errorf("report JSON (gzip): %w", err)
	}
	canon, err := io.ReadAll(io.LimitReader(zr, MaxCanonical+1))
	if err != nil || len(canon) > MaxCanonical {
		return nil, fmt.Errorf("report JSON (gzip): unreadable or over %d bytes: %v", MaxCanonical, err)
	}
	if got := sha256Hex(canon); got != seal.ContentSHA256 {
		return nil, fmt.Errorf("report JSON hashes to %s…, the seal says %s…: it was edited", got[:16], prefix16(seal.ContentSHA256))
	}
	r, err := ParseCanonical(canon)
	if err != nil {
		return nil, err
	}
	if errs := verifyESignatures(r, s.o.Trusted); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// dutyConflict says why user may not sign with meaning: the same meaning
// twice, or both review and approval of the same report (by the audit
// trail since the report was generated, and by the report's signatures).
func (s *SignService) dutyConflict(ctx context.Context, r *Report, digest, user, meaning string) (string, error) {
	type sig struct{ user, meaning string }
	var prior []sig
	for _, es := range r.Signatures {
		prior = append(prior, sig{es.User, es.Meaning})
	}
	entries, err := s.o.Audit.Range(ctx, r.Header.GeneratedAt.Add(-time.Minute), time.Time{})
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Action != audit.ActionReportSigned || !strings.Contains(e.New, " report_digest="+digest+" ") {
			continue
		}
		m, _, _ := strings.Cut(strings.TrimPrefix(e.New, "meaning="), " ")
		prior = append(prior, sig{e.Actor, m})
	}
	for _, p := range prior {
		if p.user != user {
			continue
		}
		if p.meaning == meaning {
			return fmt.Sprintf("%s already signed this report with meaning %q", user, meaning), nil
		}
		if conflicting[meaning] == p.meaning {
			return fmt.Sprintf("%s already signed this report with meaning %q: one person cannot both review and approve a report", user, p.meaning), nil
		}
	}
	return "", nil
}
