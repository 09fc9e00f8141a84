package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
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
	"github.com/linewatch/linewatch/reports"
)

// The signer's CLI holds no key (its config names a key file that does not
// exist) and still signs through the signing service; verify cross-checks
// the audit trail and names a signature without an audit entry.
func TestReportSignWithoutKeysIntegration(t *testing.T) {
	srv := testenv.NATS(t)
	url := srv.ClientURL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log, err := audit.Open(ctx, js, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	usersFile := filepath.Join(dir, "users")
	os.WriteFile(usersFile, []byte("jane:qa_approver:"+string(h)+":Jane Q. Auditor\nvictor:viewer:"+string(h)+"\n"), 0o600)
	users, err := identity.NewDirectory(usersFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The service side: report key and audit key live only here.
	reportKey, err := edkey.Generate(filepath.Join(dir, "service", "report.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealKeyFile := filepath.Join(dir, "service", "audit.key")
	sealKey, err := edkey.Generate(sealKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := reports.NewSignService(reports.SignServiceOptions{Passwords: identity.NewPasswords(users, nil, 0), Roles: func(m string) []string { return []string{"qa_approver"} },
		ReportKey: reportKey, SealKey: sealKey, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	go svc.Serve(ctx, nc)
	<-svc.Ready() // a sign request before it subscribed would find no responder
	r := &reports.Report{V: reports.SchemaVersion, Header: reports.Header{Site: "plant1", Line: "fill1", Batch: "B-1", GeneratedAt: time.Now().UTC()}}
	data, err := reports.Render(r, "html", reportKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "r.html")
	os.WriteFile(report, data, 0o644)
	// The signer's config: NATS only; its report key path does not exist.
	cfg := filepath.Join(dir, "signer.yaml")
	os.WriteFile(cfg, []byte("site: plant1\nnats:\n  url: "+url+"\nreports:\n  signing_key_file: "+filepath.Join(dir, "no-such.key")+
		"\naudit:\n  key_file: "+filepath.Join(dir, "no-such-audit.key")+"\n  trusted_keys: ["+edkey.PublicFile(sealKeyFile)+"]\nlines:\n  - id: fill1\n    machines:\n      - id: m\n        endpoint: opc.tcp://127.0.0.1:4840\n        tags:\n          - {name: t, node_id: \"ns=2;s=t\"}\n"), 0o600)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("correct horse battery\n"), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("guess\n"), 0o600)
	for { // until the service answers
		if _, err := nc.Request(reports.SignSubject, []byte(`{"v":1,"key_request":true}`), time.Second); err == nil {
			break
		}
	}
	if out, code := runCLI(t, "report", "sign", report, "-c", cfg, "--meaning", "approval", "--user", "victor", "--password-file", pw); code != ExitFailure || !strings.Contains(out, `role "viewer"`) {
		t.Fatalf("viewer signing (%d): %s", code, out)
	}
	if out, code := runCLI(t, "report", "sign", report, "-c", cfg, "--meaning", "approval", "--user", "jane", "--password-file", bad); code != ExitFailure || !strings.Contains(out, "wrong password") {
		t.Fatalf("jane's name without her password (%d): %s", code, out)
	}
	if out, code := runCLI(t, "report", "sign", report, "-c", cfg, "--meaning", "approval", "--user", "jane", "--password-file", pw); code != 0 || !strings.Contains(out, "signed by Jane Q. Auditor") {
		t.Fatalf("sign (%d): %s", code, out)
	}
	pub := edkey.PublicFile(filepath.Join(dir, "service", "report.key"))
	if out, code := runCLI(t, "report", "verify", report, "-c", cfg, "--pubkey", pub); code != 0 || !strings.Contains(out, "matches its entry in the audit stream") {
		t.Fatalf("verify (%d): %s", code, out)
	}
	if out, code := runCLI(t, "report", "verify", report, "--pubkey", pub, "--audit-key", edkey.PublicFile(sealKeyFile)); code != 0 || !strings.Contains(out, "cross-check NOT done") {
		t.Fatalf("offline verify (%d): %s", code, out)
	}
	// A copy without the signature (older, or stripped and re-sealed by a
	// report-key holder) verifies, and says which signing it lacks.
	unsigned := filepath.Join(dir, "unsigned.html")
	os.WriteFile(unsigned, data, 0o644)
	if out, code := runCLI(t, "report", "verify", unsigned, "-c", cfg, "--pubkey", pub); code != 0 || !strings.Contains(out, "records a signature this file does not carry") || !strings.Contains(out, "jane, approval") {
		t.Fatalf("verify of the unsigned copy (%d): %s", code, out)
	}
	// A sealed signature the audit trail does not know.
	signed, _ := os.ReadFile(report)
	v, err := reports.VerifyWith(signed, reports.VerifyOptions{ReportKey: reportKey.Public().(ed25519.PublicKey), SignerKeys: edkey.Keyring{edkey.KeyID(sealKey.Public().(ed25519.PublicKey)): sealKey.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	es := v.Report.Signatures[0]
	es.User, es.Name, es.Meaning, es.AuditSeq = "carol", "Carol", "review", 99
	es.Seal = base64.StdEncoding.EncodeToString(ed25519.Sign(sealKey, reports.SealMessage(es)))
	v.Report.Signatures = append(v.Report.Signatures, es)
	forged, _ := reports.Render(v.Report, "html", reportKey, time.Now())
	os.WriteFile(report, forged, 0o644)
	if out, code := runCLI(t, "report", "verify", report, "-c", cfg, "--pubkey", pub); code != ExitFailure || !strings.Contains(out, "electronic signature 2 (Carol, review") || !strings.Contains(out, "no matching audit entry") {
		t.Fatalf("signature without audit entry (%d): %s", code, out)
	}
}
