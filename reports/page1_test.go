package reports

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// TestSignatureBlockKeepsPendingMeanings: after a review signature the
// approval row is still there, pending, in the PDF and HTML block and in
// page 1's verdict.
func TestSignatureBlockKeepsPendingMeanings(t *testing.T) {
	r := smallReport()
	r.Signatures = []ESignature{{User: "rita", Name: "Rita Reviewer", Role: "qa_reviewer", Meaning: "review", Time: t0.Add(3 * time.Hour), ReportDigest: strings.Repeat("b", 64)}}
	f := formatter(r)
	rows := signatureRows(r, f)
	if len(rows) != 2 || rows[0][1] != "review" || !strings.HasPrefix(rows[0][0], "Rita Reviewer") || rows[1][1] != "approval" || rows[1][3] != "pending" {
		t.Errorf("signature rows %q", rows)
	}
	var sig Verdict
	for _, v := range verdicts(r, f) {
		if v.Check == "Signatures" {
			sig = v
		}
	}
	if sig.Status != Attention || sig.Figure != "pending: approval; signed: review by Rita Reviewer" {
		t.Errorf("signatures verdict %+v", sig)
	}
	r.Signatures = append(r.Signatures, ESignature{User: "anna", Name: "Anna Approver", Role: "qa_approver", Meaning: "approval", Time: t0.Add(4 * time.Hour), ReportDigest: strings.Repeat("b", 64)})
	for _, v := range verdicts(r, formatter(r)) {
		if v.Check == "Signatures" && v.Status != Pass {
			t.Errorf("both signed: %+v", v)
		}
	}
	html, _, err := renderUnsealed(r, "html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "Rita Reviewer") || !strings.Contains(string(html), "Anna Approver") {
		t.Error("HTML signature block lacks a signer")
	}
}
