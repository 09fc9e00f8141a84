package reports

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/edkey"
	"github.com/linewatch/linewatch/internal/testenv"
)

const signPW = "correct horse battery"

type signEnv struct {
	nc        *nats.Conn
	log       *audit.Log
	reportKey ed25519.PrivateKey
	sealKey   ed25519.PrivateKey
	keys      edkey.Keyring
	now       time.Time
}

func newSignEnv(t *testing.T) *signEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("embedded NATS")
	}
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	l, err := audit.Open(ctx, js, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := bcrypt.GenerateFromPassword([]byte(signPW), bcrypt.MinCost)
	path := filepath.Join(t.TempDir(), "users")
	var users strings.Builder
	for _, u := range []string{"jane:qa_approver", "rita:qa_reviewer", "victor:viewer", "quinn:qa"} {
		users.WriteString(u + ":" + string(h) + "\n")
	}
	users.WriteString("pat:qa_approver:" + string(h) + ":Pat Printed-Name\n")
	os.WriteFile(path, []byte(users.String()), 0o600)
	dir, err := identity.NewDirectory(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, rk, _ := ed25519.GenerateKey(rand.Reader)
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	e := &signEnv{nc: nc, log: l, reportKey: rk, sealKey: sk, keys: edkey.Keyring{}, now: genTime.Add(time.Hour)}
	e.keys.Add(sk.Public().(ed25519.PublicKey))
	roles := map[string][]string{"review": {"qa_reviewer", "qa"}, "approval": {"qa_approver", "qa"}, "responsibility": {"qa_approver"}}
	svc, err := NewSignService(SignServiceOptions{Passwords: identity.NewPasswords(dir, nil, 0), Roles: func(m string) []string { return roles[m] },
		ReportKey: rk, SealKey: sk, Audit: l, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Serve(sctx, nc) }()
	t.Cleanup(func() { cancel(); <-done })
	select { // a request before Serve subscribed would find no responder
	case <-svc.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("signing service stopped: %v", err)
	}
	return e
}

func (e *signEnv) report(t *testing.T, format, batch string) []byte {
	t.Helper()
	r := &Report{V: SchemaVersion, Header: Header{Site: "plant1", Line: "fill1", Batch: batch, GeneratedAt: genTime}}
	data, err := Render(r, format, e.reportKey, genTime)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sign sends a signing request the way `linewatch report sign` does.
func (e *signEnv) sign(t *testing.T, data []byte, user, pw, meaning string) (SignReply, []byte) {
	t.Helper()
	msg, err := NewSignMsg(data, user, pw, meaning, e.encKey(t))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(msg)
	m, err := e.nc.Request(SignSubject, body, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep SignReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Code != SignOK {
		return rep, nil
	}
	out, err := ApplySignature(data, rep)
	if err != nil {
		t.Fatal(err)
	}
	return rep, out
}

// encKey is the service's password encryption key, checked against the
// trusted audit key (the CLI's way); it waits for the service to answer.
func (e *signEnv) encKey(t *testing.T) *[32]byte {
	t.Helper()
	for {
		k, err := RequestSignKey(context.Background(), e.nc, e.keys)
		if err == nil {
			return k
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatal(err)
		}
	}
}

func (e *signEnv) verify(data []byte) (*Verification, error) {
	return VerifyWith(data, VerifyOptions{ReportKey: e.reportKey.Public().(ed25519.PublicKey), SignerKeys: e.keys})
}

func (e *signEnv) denials(t *testing.T, user string) []audit.Entry {
	t.Helper()
	all, err := e.log.All(context.Background())
	if err != nil || audit.Verify(all) != nil {
		t.Fatalf("audit: %v %v", err, audit.Verify(all))
	}
	var out []audit.Entry
	for _, x := range all {
		if x.Action == ActionReportSignDenied && x.Actor == user {
			out = append(out, x)
		}
	}
	return out
}

func TestSignServiceEveryFormatIntegration(t *testing.T) {
	e := newSignEnv(t)
	for _, format := range Formats {
		data := e.report(t, format, "B-"+format)
		rep, signed := e.sign(t, data, "rita", signPW, "review")
		if rep.Code != SignOK {
			t.Fatalf("%s: review by rita: %+v", format, rep)
		}
		e.now = e.now.Add(time.Minute)
		rep, signed = e.sign(t, signed, "pat", signPW, "approval")
		if rep.Code != SignOK || rep.Signature.Name != "Pat Printed-Name" || !rep.Signature.Time.Equal(e.now) {
			t.Fatalf("%s: approval by pat: %+v", format, rep)
		}
		v, err := e.verify(signed)
		if err != nil || len(v.Report.Signatures) != 2 {
			t.Fatalf("%s: verify: %v", format, err)
		}
		all, _ := e.log.All(context.Background())
		if errs := CrossCheck(v.Report, all); len(errs) != 0 {
			t.Fatalf("%s: cross-check: %v", format, errs)
		}
		// Manifestation: printed name, meaning, date and time in the file.
		want := []string{"Pat Printed-Name", "approval", e.now.Format("2006-01-02 15:04:05 UTC")}
		switch format {
		case "json":
			want = []string{`"printed_name":"Pat Printed-Name","role":"qa_approver","meaning":"approval","time":"` + e.now.Format(time.RFC3339)}
		case "csv":
			want = []string{"signature,pat,Pat Printed-Name,qa_approver,approval," + e.now.Format(time.RFC3339)}
		case "pdf":
			want = nil // PDF text is compressed; checked with pdftotext in TestReportPDF's helpers
		}
		for _, w := range want {
			if !bytes.Contains(signed, []byte(w)) {
				t.Errorf("%s: no %q in the signed file", format, w)
			}
		}
	}
}

// Attacks of issue 15 on e-signatures.
func TestSignatureAttacksIntegration(t *testing.T) {
	e := newSignEnv(t)
	data := e.report(t, "json", "B-7")

	// A viewer cannot sign, not even with the right password; refused and audited.
	if rep, _ := e.sign(t, data, "victor", signPW, "approval"); rep.Code != SignDenied || !strings.Contains(rep.Message, `role "viewer"`) {
		t.Fatalf("viewer approval: %+v", rep)
	}
	if d := e.denials(t, "victor"); len(d) != 1 || !strings.Contains(d[0].Reason, "may not sign") {
		t.Fatalf("viewer refusal audit: %+v", d)
	}
	// A reviewer cannot approve.
	if rep, _ := e.sign(t, data, "rita", signPW, "approval"); rep.Code != SignDenied {
		t.Fatalf("reviewer approving: %+v", rep)
	}
	// In another person's name without their password: refused, audited.
	for _, pw := range []string{"", "wrong", signPW + " "} {
		if rep, _ := e.sign(t, data, "jane", pw, "approval"); rep.Code != SignDenied || !strings.Contains(rep.Message, "wrong password") {
			t.Fatalf("jane without her password (%q): %+v", pw, rep)
		}
	}
	if d := e.denials(t, "jane"); len(d) != 3 {
		t.Fatalf("wrong-password refusals audited: %d", len(d))
	}
	// One person cannot review and approve, nor sign a meaning twice — also
	// when the earlier signature was stripped from the file.
	rep, reviewed := e.sign(t, data, "quinn", signPW, "review")
	if rep.Code != SignOK {
		t.Fatalf("quinn review: %+v", rep)
	}
	if rep, _ := e.sign(t, reviewed, "quinn", signPW, "approval"); rep.Code != SignDenied || !strings.Contains(rep.Message, "cannot both review and approve") {
		t.Fatalf("quinn approving what he reviewed: %+v", rep)
	}
	if rep, _ := e.sign(t, data, "quinn", signPW, "approval"); rep.Code != SignDenied {
		t.Fatalf("quinn approving the unsigned copy: %+v", rep)
	}
	if rep, _ := e.sign(t, data, "quinn", signPW, "review"); rep.Code != SignDenied || !strings.Contains(rep.Message, "already signed") {
		t.Fatalf("quinn reviewing twice: %+v", rep)
	}

	// A forger holding the report key (a report generator) writes jane's
	// approval into the report: the seal is not the signing service's.
	v, err := e.verify(reviewed)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := v.Report.unsignedDigest()
	for _, forgeKey := range []ed25519.PrivateKey{e.reportKey, nil} {
		es := ESignature{User: "jane", Name: "jane", Role: "qa_approver", Meaning: "approval", Time: e.now, ReportDigest: digest, KeyID: KeyID(e.reportKey.Public().(ed25519.PublicKey))}
		want := "not a trusted signing-service key"
		if forgeKey == nil { // claims the service's key id, sealed with another key
			_, forgeKey, _ = ed25519.GenerateKey(rand.Reader)
			es.KeyID, want = KeyID(e.sealKey.Public().(ed25519.PublicKey)), "seal does not verify"
		}
		es.Seal = base64.StdEncoding.EncodeToString(ed25519.Sign(forgeKey, esMessage(es)))
		r := *v.Report
		r.Signatures = append(append([]ESignature{}, r.Signatures...), es)
		forged, _ := Render(&r, "json", e.reportKey, e.now)
		if _, err := e.verify(forged); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("forged signature: %v; want %q", err, want)
		}
	}
	// A signature sealed by the service key but without its audit entry
	// (e.g. audit entries rewritten): verify's cross-check names it.
	es := v.Report.Signatures[0]
	es.AuditSeq += 1000
	es.Seal = base64.StdEncoding.EncodeToString(ed25519.Sign(e.sealKey, esMessage(es)))
	all, _ := e.log.All(context.Background())
	errs := CrossCheck(&Report{Signatures: []ESignature{es}}, all)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "electronic signature 1 (quinn, review") || !strings.Contains(errs[0].Error(), "no matching audit entry") {
		t.Errorf("cross-check: %v", errs)
	}
	es = v.Report.Signatures[0]
	es.AuditSeq = 1 // an existing entry of someone else
	if errs := CrossCheck(&Report{Signatures: []ESignature{es}}, all); len(errs) != 1 {
		t.Errorf("cross-check against another entry: %v", errs)
	}

	// The password is not readable on the bus, and a captured request
	// cannot lend its password to another request.
	captured, _ := NewSignMsg(data, "jane", signPW, "responsibility", e.encKey(t))
	wire, _ := json.Marshal(captured)
	if bytes.Contains(wire, []byte(signPW)) || bytes.Contains(wire, []byte(base64.StdEncoding.EncodeToString([]byte(signPW)))) {
		t.Fatal("the password is readable in the request")
	}
	for _, change := range []func(*SignMsg){
		func(m *SignMsg) { m.Meaning = "approval" },
		func(m *SignMsg) { m.User = "pat" },
		func(m *SignMsg) { m.PasswordBox = "" },
	} {
		m := captured
		change(&m)
		if rep := signDirect(t, e, m); rep.Code != SignDenied || !strings.Contains(rep.Message, "not encrypted to this service") {
			t.Errorf("replayed password box: %+v", rep)
		}
	}
	// A key announcement not signed by the trusted audit key is refused.
	_, otherSeal, _ := ed25519.GenerateKey(rand.Reader)
	fake := announceKey(otherSeal)
	if _, err := fake.Verify(e.keys); err == nil {
		t.Error("an untrusted service's encryption key was accepted")
	}
	fake.KeyID = KeyID(e.sealKey.Public().(ed25519.PublicKey))
	if _, err := fake.Verify(e.keys); err == nil || !strings.Contains(err.Error(), "someone else answered") {
		t.Errorf("a forged key announcement: %v", err)
	}

	// The service signs only reports sealed with its report key, unedited.
	msg, _ := NewSignMsg(data, "jane", signPW, "approval", e.encKey(t))
	var r Report
	json.Unmarshal(mustCanonical(t, data), &r)
	r.Header.Batch = "B-8"
	msg.Canonical = gzipBytes(t, mustJSON(t, &r))
	if rep := signDirect(t, e, msg); rep.Code != SignInvalid || !strings.Contains(rep.Message, "edited") {
		t.Errorf("edited report: %+v", rep)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := Render(&r, "json", otherKey, genTime)
	msg, _ = NewSignMsg(other, "jane", signPW, "approval", e.encKey(t))
	if rep := signDirect(t, e, msg); rep.Code != SignInvalid || !strings.Contains(rep.Message, "not a json report sealed") {
		t.Errorf("report of another key: %+v", rep)
	}
}

func signDirect(t *testing.T, e *signEnv, msg SignMsg) SignReply {
	t.Helper()
	body, _ := json.Marshal(msg)
	m, err := e.nc.Request(SignSubject, body, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep SignReply
	json.Unmarshal(m.Data, &rep)
	return rep
}

func mustCanonical(t *testing.T, data []byte) []byte {
	t.Helper()
	c, err := ExtractCanonical(data, DetectFormat(data))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	b, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	msg, err := NewSignMsg(mustRenderJSON(t, b), "", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Canonical
}

func mustRenderJSON(t *testing.T, canon []byte) []byte {
	t.Helper()
	r, err := ParseCanonical(canon)
	if err != nil {
		t.Fatal(err)
	}
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	out, err := Render(r, "json", k, genTime)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Two service workers (two processes' worth: own Log, own lock) receive a
// review and an approval by the same person at the same moment: at most one
// is signed, every time.
func TestSeparationOfDutiesUnderConcurrencyIntegration(t *testing.T) {
	e := newSignEnv(t)
	js, _ := jetstreamOf(e.nc)
	l2, err := audit.Open(context.Background(), js, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := bcrypt.GenerateFromPassword([]byte(signPW), bcrypt.MinCost)
	path := filepath.Join(t.TempDir(), "users")
	os.WriteFile(path, []byte("quinn:qa:"+string(h)+"\n"), 0o600)
	dir, _ := identity.NewDirectory(path, nil)
	svc2, err := NewSignService(SignServiceOptions{Passwords: identity.NewPasswords(dir, nil, 0), Roles: func(string) []string { return []string{"qa"} },
		ReportKey: e.reportKey, SealKey: e.sealKey, Audit: l2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc2.Serve(ctx, e.nc)
	<-svc2.Ready() // both workers take requests
	key := e.encKey(t)
	for i := range 6 {
		data := e.report(t, "json", "B-race-"+string(rune('a'+i)))
		results := make(chan SignReply, 2)
		for _, m := range []string{"review", "approval"} {
			go func() {
				msg, _ := NewSignMsg(data, "quinn", signPW, m, key)
				body, _ := json.Marshal(msg)
				rep := SignReply{Code: "no reply"}
				if r, err := e.nc.Request(SignSubject, body, 30*time.Second); err == nil {
					json.Unmarshal(r.Data, &rep)
				}
				results <- rep
			}()
		}
		a, b := <-results, <-results
		if n := btoi(a.Code == SignOK) + btoi(b.Code == SignOK); n != 1 {
			t.Fatalf("report %d: %d of review/approval by one person signed: %+v / %+v", i, n, a, b)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func jetstreamOf(nc *nats.Conn) (jetstream.JetStream, error) { return jetstream.New(nc) }

// Guessing a signer's password through signing requests is limited like a
// login: after 5 wrong passwords even the right one is refused (without a
// bcrypt check) until the block ends, and another signer is not affected.
func TestSigningPasswordGuessesLimitedIntegration(t *testing.T) {
	e := newSignEnv(t)
	data := e.report(t, "json", "B-9")
	for i := range 5 {
		if rep, _ := e.sign(t, data, "jane", fmt.Sprintf("guess %d", i), "approval"); rep.Code != SignDenied || !strings.Contains(rep.Message, "wrong password") {
			t.Fatalf("guess %d: %+v", i, rep)
		}
	}
	if rep, _ := e.sign(t, data, "jane", signPW, "approval"); rep.Code != SignDenied || !strings.Contains(rep.Message, "too many failed password checks") {
		t.Fatalf("right password right after 5 guesses: %+v, want refused as rate limited", rep)
	}
	if rep, _ := e.sign(t, data, "quinn", signPW, "review"); rep.Code != SignOK {
		t.Fatalf("another signer after jane's guesses: %+v", rep)
	}
}

// TestCrossCheckTimesInReportZone: verification messages name a
// signature's time, and the audit entry's, in the report's zone.
func TestCrossCheckTimesInReportZone(t *testing.T) {
	at := time.Date(2026, 7, 2, 9, 30, 0, 0, time.UTC)
	es := ESignature{Name: "Quinn", User: "quinn", Meaning: "review", Time: at, AuditSeq: 1}
	entries := []audit.Entry{{Seq: 1, Actor: "rita", Action: audit.ActionReportSigned, Time: at.Add(time.Minute), New: "x"}}
	r := &Report{Header: Header{TimeZone: "Europe/Dublin"}, Signatures: []ESignature{es}}
	errs := CrossCheck(r, entries)
	want := "electronic signature 1 (Quinn, review, 2026-07-02 10:30:00 IST) has no matching audit entry (seq 1 is report.signed by rita at 2026-07-02 10:31:00 IST: x)"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("cross-check: %v\nwant %s", errs, want)
	}
}
