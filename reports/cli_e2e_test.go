package reports

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/edkey"
)

// TestCLIEndToEnd builds the linewatch binary and runs keys generate,
// batches list, report batch, report sign and report verify against the
// fixture's real InfluxDB and NATS. It builds the whole command (every
// package), so it runs only with LINEWATCH_E2E_CLI=1.
func TestCLIEndToEnd(t *testing.T) {
	if os.Getenv("LINEWATCH_E2E_CLI") == "" {
		t.Skip("set LINEWATCH_E2E_CLI=1 to build and run the linewatch binary")
	}
	f := newFixture(t)
	bin := filepath.Join(t.TempDir(), "linewatch")
	// As `make build` does: the commit linked in (GOFLAGS may turn the
	// toolchain's vcs stamping off).
	commit, _ := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	ldflags := "-X github.com/linewatch/linewatch/internal/buildinfo.commit=" + strings.TrimSpace(string(commit))
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, "../cmd/linewatch").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	users := writeUsers(t, f.dir)
	natsURL := f.js.Conn().ConnectedUrl()
	// fixtureConfig ends inside its reports: mapping.
	cfgText := fixtureConfig + "  signing_key_file: " + filepath.Join(f.dir, "report.key") + "\ninfluxdb:\n  url: " + f.db.URL + "\n  database: " + f.db.Database + "\nnats:\n  url: " + natsURL +
		"\nconsole:\n  users_file: " + users +
		"\naudit:\n  key_file: " + filepath.Join(f.dir, "audit.key") + "\n"
	cfgPath := filepath.Join(f.dir, "lw.yaml")
	os.WriteFile(cfgPath, []byte(cfgText), 0o600)
	pw := filepath.Join(f.dir, "pw")
	os.WriteFile(pw, []byte("correct horse\n"), 0o600)
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "LINEWATCH_OPERATOR=qa.jane")
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("linewatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("$ linewatch %s\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	run(true, "keys", "generate", "-c", cfgPath)
	// The signing service (the alerts role in production) holds the keys.
	reportKey, err := LoadPrivateKey(filepath.Join(f.dir, "report.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealKey, err := edkey.Generate(filepath.Join(f.dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	dirUsers, err := identity.NewDirectory(users, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewSignService(SignServiceOptions{Passwords: identity.NewPasswords(dirUsers, nil, 0), Roles: func(string) []string { return []string{"qa"} },
		ReportKey: reportKey, SealKey: sealKey, Audit: f.audit})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.Serve(ctx, f.js.Conn())
	<-svc.Ready() // a sign request before it subscribed would find no responder
	if out := run(true, "batches", "list", "-c", cfgPath, "--line", "fill1"); !strings.Contains(out, "B-2026-0042") || !strings.Contains(out, "B-2026-0041") {
		t.Errorf("batches list: %s", out)
	}
	if out := run(true, "report", "storage", "-c", cfgPath, "--location", "coldroom1", "--from", "2026-03-02T05:30:00Z", "--to", "2026-03-02T07:40:00Z"); !strings.Contains(out, "B-2026-0042") ||
		!strings.Contains(out, "Excursions (1):") || !strings.Contains(out, "MKT") {
		t.Errorf("report storage: %s", out)
	}
	run(false, "report", "storage", "-c", cfgPath, "--location", "nowhere")
	for _, format := range Formats {
		out := filepath.Join(f.dir, "r."+format)
		run(true, "report", "batch", "-c", cfgPath, "--batch", "B-2026-0042", "-o", out)
		run(true, "report", "verify", out, "--pubkey", filepath.Join(f.dir, "report.key.pub"))
		if format == "json" {
			// The binary was built from a git checkout: the report names its
			// commit, never "devel".
			if data, _ := os.ReadFile(out); len(commit) > 0 && !strings.Contains(string(data), `"linewatch_version":"`+strings.TrimSpace(string(commit))+`"`) {
				t.Errorf("the report does not name the commit %s the binary was built from", commit)
			}
		}
		run(false, "report", "verify", out) // not authenticated
		run(true, "report", "sign", out, "-c", cfgPath, "--meaning", "approval", "--user", "jane", "--password-file", pw)
		if o := run(true, "report", "verify", out, "-c", cfgPath); !strings.Contains(o, "Jane Q. Auditor") {
			t.Errorf("verify after signing: %s", o)
		}
		data, _ := os.ReadFile(out)
		if format == "pdf" {
			// The standard PDF signature survives the e-signature: pdfsig
			// (what a reviewer runs) finds it valid over the whole file.
			pdfsig := requirePoppler(t, "pdfsig")
			o, err := exec.Command(pdfsig, out).CombinedOutput()
			if err != nil || !strings.Contains(string(o), "Signature is Valid") || !strings.Contains(string(o), "Total document signed") {
				t.Errorf("pdfsig after signing: %v\n%s", err, o)
			}
		}
		data[len(data)/2] ^= 1
		os.WriteFile(out, data, 0o644)
		if o := run(false, "report", "verify", out, "-c", cfgPath); !strings.Contains(o, "INVALID") {
			t.Errorf("verify tampered: %s", o)
		}
	}
}
