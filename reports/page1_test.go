package reports

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// checkPage1 reads page 1 of the fixture's PDF as a reviewer's tool does
// (pdftotext) and checks the exception summary: every verdict line with
// its figure.
func checkPage1(t *testing.T, data []byte) {
	t.Helper()
	pdftotext := requirePoppler(t, "pdftotext")
	path := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-layout", "-f", "1", "-l", "1", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	page := regexp.MustCompile(`\s+`).ReplaceAllString(string(out), " ")
	for _, want := range []string{
		"Exception summary",
		// 12 minutes above 8 °C on the critical probe, in the line and in
		// the cold room it stands in.
		"Excursions FAIL 2 on 2 tag(s); longest 12m0s on coldroom/temp",
		"Yield PASS checkweigher 99.90 % vs minimum 98.00 % (54000 good, 54 rejected)",
		"SPC signals ATTENTION",
		"p-chart checkweigher: 9 of 10 subgroups out of control",
		"Alarms PASS 1 alarm(s); 0 unacknowledged, 0 shelved or out of service",
		"Data completeness ATTENTION 1 gap(s) on 1 tag(s), longest 2m10s (coldroom/temp), 2m10s in all; lowest coverage 97.6 % (coldroom/temp)",
		"Cold chain PASS stored in coldroom1; coldroom/temp: MKT",
		"TOR 12m0s of 2h0m0s",
		"Signatures ATTENTION pending: review, approval",
		"Quantities checkweigher: 54000 good, 54 rejected",
		"Product Vaccine X 10 mL",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page 1 lacks %q:\n%s", want, out)
		}
	}
}
