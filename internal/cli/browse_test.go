package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/linewatch/linewatch/collector/pki"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/simulator"
)

// startBrowseSim starts the real simulator on a free loopback port with
// the manual clock, so values do not move during a test.
func startBrowseSim(t *testing.T) *simulator.Simulator {
	t.Helper()
	sim, err := simulator.Start(context.Background(), simulator.Options{Seed: 7, AllowAnonymous: true, Logger: discardLog()})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// browseRow is one parsed line of the browse table.
type browseRow struct{ path, dataType, access, unit, value string }

// parseBrowseTable maps node id to row. Columns are separated by two or
// more spaces (tabwriter padding 2); a value may contain single spaces.
func parseBrowseTable(t *testing.T, out string) map[string]browseRow {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "NODE ID") {
		t.Fatalf("no browse table:\n%s", out)
	}
	header := lines[0]
	cols := []int{0}
	for _, h := range []string{"BROWSE PATH", "DATA TYPE", "ACCESS", "UNIT", "VALUE"} {
		cols = append(cols, strings.Index(header, h))
	}
	rows := map[string]browseRow{}
	for _, l := range lines[1:] {
		field := func(i int) string {
			end := len(l)
			if i+1 < len(cols) {
				end = min(cols[i+1], len(l))
			}
			return strings.TrimSpace(l[min(cols[i], len(l)):end])
		}
		rows[field(0)] = browseRow{path: field(1), dataType: field(2), access: field(3), unit: field(4), value: field(5)}
	}
	return rows
}

func TestBrowseTable(t *testing.T) {
	sim := startBrowseSim(t)
	code, out, errOut := run(t, "browse", sim.Endpoint(), "--pki-dir", t.TempDir())
	if code != ExitOK {
		t.Fatalf("browse: exit %d: %s", code, errOut)
	}
	rows := parseBrowseTable(t, out)
	for _, want := range []struct {
		id   string
		row  browseRow
		good func(string) bool
	}{
		// Filler fill weight: 2.000 g target (simulator.DefaultPlant).
		{"ns=2;s=filling1.filler.fill_weight", browseRow{path: "filling1/filler/fill_weight", dataType: "Double", access: "r", unit: "g"},
			floatIn(1.5, 2.5)},
		{"ns=2;s=filling1.filler.fill_speed", browseRow{path: "filling1/filler/fill_speed", dataType: "Double", access: "r", unit: "vials/min"},
			floatIn(0, 400)},
		{"ns=2;s=filling1.filler.stopper_rejects", browseRow{path: "filling1/filler/stopper_rejects", dataType: "UInt32", access: "r", unit: "count"},
			uintValue},
		{"ns=2;s=filling1.filler.state", browseRow{path: "filling1/filler/state", dataType: "String", access: "r"},
			oneOf("running", "stopped", "cip", "fault")},
		{"ns=2;s=filling1.checkweigher.good_count", browseRow{path: "filling1/checkweigher/good_count", dataType: "UInt32", access: "r", unit: "count"},
			uintValue},
	} {
		got, ok := rows[want.id]
		if !ok {
			t.Errorf("%s not in the browse table:\n%s", want.id, out)
			continue
		}
		v := got.value
		got.value = ""
		if got != want.row {
			t.Errorf("%s: got %+v, want %+v", want.id, got, want.row)
		}
		if !want.good(v) {
			t.Errorf("%s: implausible current value %q", want.id, v)
		}
	}
	// EngineeringUnits properties are shown as the unit column, not as variables.
	if _, ok := rows["ns=2;s=filling1.filler.fill_weight.EngineeringUnits"]; ok {
		t.Error("EngineeringUnits property listed as a variable")
	}
	// The Server object (namespace 0 diagnostics) is hidden without --all.
	for id := range rows {
		if strings.HasPrefix(id, "i=") {
			t.Errorf("namespace 0 node %s listed without --all", id)
		}
	}
}

func floatIn(lo, hi float64) func(string) bool {
	return func(s string) bool {
		v, err := strconv.ParseFloat(s, 64)
		return err == nil && v >= lo && v <= hi
	}
}

func uintValue(s string) bool { _, err := strconv.ParseUint(s, 10, 32); return err == nil }

func oneOf(vals ...string) func(string) bool {
	return func(s string) bool {
		for _, v := range vals {
			if s == v {
				return true
			}
		}
		return false
	}
}

// TestBrowseYAMLIsValidConfig: the YAML for selected nodes parses into the
// config's tag form and, pasted under a machine with the simulator's
// endpoint, passes `config check`.
func TestBrowseYAMLIsValidConfig(t *testing.T) {
	sim := startBrowseSim(t)
	code, out, errOut := run(t, "browse", sim.Endpoint(), "--pki-dir", t.TempDir(), "--yaml",
		"--select", "filling1/filler/*", "--select", "ns=2;s=filling1.checkweigher.good_count")
	if code != ExitOK {
		t.Fatalf("browse --yaml: exit %d: %s", code, errOut)
	}
	var doc struct {
		Tags []config.Tag `yaml:"tags"`
	}
	dec := yaml.NewDecoder(strings.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("browse YAML does not parse into config tags: %v\n%s", err, out)
	}
	got := map[string]config.Tag{}
	for _, tg := range doc.Tags {
		got[tg.Name] = tg
	}
	wantNames := []string{"fill_weight", "fill_speed", "stopper_rejects", "state", "batch_id", "product_code", "good_count"}
	if len(doc.Tags) != len(wantNames) {
		t.Fatalf("%d tags, want %d (%v):\n%s", len(doc.Tags), len(wantNames), wantNames, out)
	}
	for _, n := range wantNames {
		if _, ok := got[n]; !ok {
			t.Errorf("tag %s missing:\n%s", n, out)
		}
	}
	if w := got["fill_weight"]; w.NodeID != "ns=2;s=filling1.filler.fill_weight" || w.Unit != "g" || w.Description != "filling1/filler/fill_weight" {
		t.Errorf("fill_weight = %+v", w)
	}
	if g := got["good_count"]; g.NodeID != "ns=2;s=filling1.checkweigher.good_count" || g.Unit != "count" {
		t.Errorf("good_count = %+v", g)
	}

	indented := "        " + strings.ReplaceAll(strings.TrimRight(out, "\n"), "\n", "\n        ")
	cfgYAML := `site: browse-test
data_dir: ` + t.TempDir() + `
lines:
  - id: filling1
    machines:
      - id: filler
        endpoint: ` + sim.Endpoint() + `
        security_policy: None
        security_mode: None
        auth: {type: anonymous}
` + indented + `
        poll_groups:
          - {name: all, interval: 1s, tags: [` + strings.Join(wantNames, ", ") + `]}
`
	file := filepath.Join(t.TempDir(), "browsed.yaml")
	if err := os.WriteFile(file, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "config", "check", "-c", file)
	if code != ExitOK || !strings.Contains(out, "OK: site browse-test, 1 lines, 1 machines, 7 tags") {
		t.Fatalf("config check of the browsed tags: exit %d\n%s%s\nconfig:\n%s", code, out, errOut, cfgYAML)
	}
}

// TestBrowseSecurity: a secured browse of a server whose certificate is not
// trusted fails with its thumbprint and the `pki trust` command; after
// trusting it the same browse works.
func TestBrowseSecurity(t *testing.T) {
	sim := startBrowseSim(t)
	pkiDir := t.TempDir()
	args := []string{"browse", sim.Endpoint(), "--pki-dir", pkiDir, "--policy", "Basic256Sha256", "--mode", "SignAndEncrypt",
		"--select", "filling1/filler/fill_weight"}
	code, out, errOut := run(t, args...)
	thumb := pki.Thumbprint(sim.ServerCertificate())
	if code != ExitFailure {
		t.Fatalf("untrusted server: exit %d, want %d\n%s%s", code, ExitFailure, out, errOut)
	}
	if !strings.Contains(errOut, "thumbprint "+thumb) || !strings.Contains(errOut, "linewatch pki trust --thumbprint "+thumb+" --pki-dir "+pkiDir) {
		t.Fatalf("untrusted server error does not name thumbprint %s and the pki trust command:\n%s", thumb, errOut)
	}
	if out != "" {
		t.Errorf("untrusted server: something was printed: %q", out)
	}

	trusted := pki.Open(pkiDir).TrustedDir()
	if err := os.MkdirAll(trusted, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trusted, "sim.der"), sim.ServerCertificate(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, args...)
	if code != ExitOK {
		t.Fatalf("trusted server: exit %d: %s", code, errOut)
	}
	rows := parseBrowseTable(t, out)
	if len(rows) != 1 || rows["ns=2;s=filling1.filler.fill_weight"].dataType != "Double" {
		t.Fatalf("secured browse: %v", rows)
	}

	// None security with the default policy flags: no trust needed.
	code, out, errOut = run(t, "browse", sim.Endpoint(), "--pki-dir", t.TempDir(), "--select", "fill_weight")
	if code != ExitOK {
		t.Fatalf("None security: exit %d: %s", code, errOut)
	}
	if rows := parseBrowseTable(t, out); len(rows) != 1 || !floatIn(1.5, 2.5)(rows["ns=2;s=filling1.filler.fill_weight"].value) {
		t.Fatalf("None security: %v", rows)
	}
}

// TestBrowseUsageErrors: mistakes on the command line exit 2 with a
// message naming the bad value, before any connection (port 1 would
// refuse it anyway, giving exit 1).
func TestBrowseUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"browse"}, "accepts 1 arg(s)"},
		{[]string{"browse", "a", "b"}, "accepts 1 arg(s)"},
		{[]string{"browse", "opc.tcp://127.0.0.1:1", "--cert", "x.pem"}, "--cert and --key go together"},
		{[]string{"browse", "opc.tcp://127.0.0.1:1", "--bogus"}, "unknown flag"},
		{[]string{"browse", "http://127.0.0.1:4840"}, `endpoint "http://127.0.0.1:4840"`},
		{[]string{"browse", "opc.tcp://plc1"}, "port missing"},
		{[]string{"browse", "opc.tcp://127.0.0.1:1", "--policy", "Basic128Rsa15", "--mode", "Sign"}, `--policy "Basic128Rsa15"`},
		{[]string{"browse", "opc.tcp://127.0.0.1:1", "--policy", "None", "--mode", "Encrypt"}, `--mode "Encrypt"`},
		// A policy without a mode must not quietly browse unsigned.
		{[]string{"browse", "opc.tcp://127.0.0.1:1", "--policy", "Basic256Sha256"}, "do not go together"},
		{[]string{"browse", "opc.tcp://127.0.0.1:1", "--mode", "SignAndEncrypt"}, "do not go together"},
	} {
		code, _, errOut := run(t, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, want %d with %q: %s", c.args, code, ExitUsage, c.msg, errOut)
		}
	}
}

// TestBrowseNothingSelected: an empty selection says so on stderr; the
// table keeps only its header and the YAML is an empty list.
func TestBrowseNothingSelected(t *testing.T) {
	sim := startBrowseSim(t)
	code, out, errOut := run(t, "browse", sim.Endpoint(), "--pki-dir", t.TempDir(), "--select", "no_such_tag")
	if code != ExitOK || len(parseBrowseTable(t, out)) != 0 || !strings.Contains(errOut, "no variables found") {
		t.Fatalf("exit %d\nout %q\nerr %q", code, out, errOut)
	}
	code, out, errOut = run(t, "browse", sim.Endpoint(), "--pki-dir", t.TempDir(), "--select", "no_such_tag", "--yaml")
	if code != ExitOK || strings.TrimSpace(out) != "tags: []" || !strings.Contains(errOut, "no variables found") {
		t.Fatalf("--yaml: exit %d\nout %q\nerr %q", code, out, errOut)
	}
	// A malformed glob is a usage error naming the pattern.
	code, _, errOut = run(t, "browse", sim.Endpoint(), "--pki-dir", t.TempDir(), "--select", "filling1/[")
	if code != ExitUsage || !strings.Contains(errOut, `"filling1/["`) {
		t.Fatalf("bad glob: exit %d: %s", code, errOut)
	}
}

// FuzzCheckBrowseTarget: whatever the command line holds, the check does
// not panic, and what it accepts is what the collector's config accepts.
func FuzzCheckBrowseTarget(f *testing.F) {
	f.Add("opc.tcp://127.0.0.1:4840", "None", "None")
	f.Add("opc.tcp://plc1:4840/path", "Basic256Sha256", "SignAndEncrypt")
	f.Add("opc.tcp://plc1", "None", "None")
	f.Add("http://x:1", "Aes256_Sha256_RsaPss", "Sign")
	f.Add("opc.tcp://[::1]:4840", "Basic256Sha256", "None")
	f.Add("opc.tcp://%zz:1", "None", "None")
	f.Fuzz(func(t *testing.T, endpoint, policy, mode string) {
		err := checkBrowseTarget(endpoint, policy, mode)
		m := config.Machine{ID: "m", Endpoint: endpoint, SecurityPolicy: policy, SecurityMode: mode, Auth: config.Auth{Type: "anonymous"}}
		cfgErr, ok := machineTargetErrors(m)
		if !ok {
			t.Skip("yaml.v3 does not round-trip this string; nothing to compare")
		}
		if (err == nil) != (cfgErr == "") {
			t.Fatalf("browse check %v, config check %q for %q %q %q", err, cfgErr, endpoint, policy, mode)
		}
	})
}

// machineTargetErrors validates m in a minimal config and returns the
// errors about its endpoint and security settings; ok is false when the
// YAML could not be read back.
func machineTargetErrors(m config.Machine) (msgs string, ok bool) {
	b, err := yaml.Marshal(map[string]any{
		"site": "s", "lines": []any{map[string]any{"id": "l", "machines": []any{map[string]any{
			"id": m.ID, "endpoint": m.Endpoint, "security_policy": m.SecurityPolicy, "security_mode": m.SecurityMode,
			"auth": map[string]any{"type": "anonymous"},
		}}}},
	})
	if err != nil {
		return "", false
	}
	_, err = config.Parse(b, "fuzz.yaml")
	var errs config.Errors
	if !errors.As(err, &errs) {
		return "", err == nil
	}
	var out []string
	for _, e := range errs {
		s := e.Error()
		if strings.Contains(s, "YAML syntax") {
			return "", false
		}
		if strings.Contains(s, ".endpoint") || strings.Contains(s, ".security_") {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n"), true
}

// TestBrowseUserAuth: --user with the password from an environment
// variable logs in over SignAndEncrypt; a wrong password is refused by the
// server; --user without a password source is a usage error.
func TestBrowseUserAuth(t *testing.T) {
	sim, err := simulator.Start(context.Background(), simulator.Options{Seed: 7, Users: map[string]string{"engineer": "corr3ct-horse"}, Logger: discardLog()})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	pkiDir := t.TempDir()
	trusted := pki.Open(pkiDir).TrustedDir()
	if err := os.MkdirAll(trusted, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trusted, "sim.der"), sim.ServerCertificate(), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"browse", sim.Endpoint(), "--pki-dir", pkiDir, "--policy", "Basic256Sha256", "--mode", "SignAndEncrypt",
		"--select", "fill_weight", "--user", "engineer"}

	t.Setenv("LW_BROWSE_PW", "corr3ct-horse")
	code, out, errOut := run(t, append(base, "--password-env", "LW_BROWSE_PW")...)
	if code != ExitOK {
		t.Fatalf("right password: exit %d: %s", code, errOut)
	}
	if rows := parseBrowseTable(t, out); !floatIn(1.5, 2.5)(rows["ns=2;s=filling1.filler.fill_weight"].value) {
		t.Fatalf("right password: %v", rows)
	}

	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, append(base, "--password-file", pwFile)...)
	if code != ExitFailure || !strings.Contains(errOut, "BadUserAccessDenied") || out != "" {
		t.Fatalf("wrong password: exit %d\nout %q\nerr %s", code, out, errOut)
	}

	code, _, errOut = run(t, base...)
	if code != ExitUsage || !strings.Contains(errOut, "--password-env or --password-file") {
		t.Fatalf("no password source: exit %d: %s", code, errOut)
	}
}
