package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `report verify` checks archived schema-1 reports (reports/testdata/v1,
// made by linewatch 36b3a6a) in every format, and still catches a change.
func TestReportVerifySchemaV1(t *testing.T) {
	dir := filepath.Join("..", "..", "reports", "testdata", "v1")
	keys := []string{"--pubkey", filepath.Join(dir, "report.key.pub"), "--audit-key", filepath.Join(dir, "audit.key.pub"), "--offline"}
	for _, format := range []string{"pdf", "json", "csv", "html"} {
		file := filepath.Join(dir, "report."+format)
		code, out, errOut := run(t, append([]string{"report", "verify", file}, keys...)...)
		for _, want := range []string{format + " report of batch B-2026-0042 (line fill1)", "report schema 1 (made by an earlier linewatch",
			"electronic signature: rita (rita), review, 2026-03-03 10:00:00 UTC — bound to this report, audit seq 1",
			"electronic signature: Pat Printed-Name (pat), approval", ": VALID (trusted key "} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("%s: exit %d, no %q in\n%s%s", format, code, want, out, errOut)
			}
		}
		if got := strings.Contains(out, "no standard PDF signature: PDFs of this schema predate it"); got != (format == "pdf") {
			t.Errorf("%s: PDF signature note %v:\n%s", format, got, out)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/3] ^= 1
		bad := filepath.Join(t.TempDir(), "report."+format)
		os.WriteFile(bad, data, 0o600)
		if code, out, _ := run(t, append([]string{"report", "verify", bad}, keys...)...); code == 0 || !strings.Contains(out, "INVALID") || !strings.Contains(out, "file digest mismatch") {
			t.Errorf("%s with a flipped byte: exit %d\n%s", format, code, out)
		}
	}
}
