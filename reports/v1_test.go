package reports

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/internal/edkey"
)

// v1Files reads the schema-1 fixtures of testdata/v1 (made by linewatch
// 36b3a6a, see its README) and their keys.
func v1Files(t testing.TB) (map[string][]byte, VerifyOptions) {
	t.Helper()
	dir := filepath.Join("testdata", "v1")
	rk, err := LoadPublicKey(filepath.Join(dir, "report.key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := edkey.LoadKeyring(filepath.Join(dir, "audit.key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range Formats {
		if files[f], err = os.ReadFile(filepath.Join(dir, "report."+f)); err != nil {
			t.Fatal(err)
		}
	}
	return files, VerifyOptions{ReportKey: rk, SignerKeys: keys}
}

// Archived schema-1 reports, as the old version wrote and signed them,
// verify: content digest, Ed25519 seal and both electronic signatures.
func TestVerifySchemaV1Fixtures(t *testing.T) {
	files, o := v1Files(t)
	for _, format := range Formats {
		v, err := VerifyWith(files[format], o)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if v.Schema != 1 || v.Report != nil || !v.Authenticated || v.Format != format || v.Batch != "B-2026-0042" || v.Line != "fill1" || v.PDF != nil {
			t.Errorf("%s: schema %d, report %v, authenticated %v, format %s, batch %q line %q, PDF %v", format, v.Schema, v.Report != nil, v.Authenticated, v.Format, v.Batch, v.Line, v.PDF)
		}
		if len(v.Signatures) != 2 || v.Signatures[0].User != "rita" || v.Signatures[0].Meaning != "review" ||
			v.Signatures[1].Name != "Pat Printed-Name" || v.Signatures[1].Meaning != "approval" {
			t.Fatalf("%s: signatures %+v", format, v.Signatures)
		}
		for _, es := range v.Signatures {
			if es.ReportDigest != v.UnsignedSHA256 || len(v.UnsignedSHA256) != 64 {
				t.Errorf("%s: signature bound to %s, the report without signatures hashes to %s", format, es.ReportDigest, v.UnsignedSHA256)
			}
		}
		// The e-signature check runs: without the signing service's key the
		// signatures are not trusted.
		if _, err := Verify(files[format], o.ReportKey); err == nil || !strings.Contains(err.Error(), "not a trusted signing-service key") {
			t.Errorf("%s: without the audit key: %v", format, err)
		}
		// Nor is the file authenticated by another report key.
		other, _, _ := ed25519.GenerateKey(nil)
		if _, err := VerifyWith(files[format], VerifyOptions{ReportKey: other, SignerKeys: o.SignerKeys}); err == nil || !strings.Contains(err.Error(), "not with the trusted key") {
			t.Errorf("%s: another report key: %v", format, err)
		}
	}
	// The four renderings embed the same report.
	var digests []string
	for _, format := range Formats {
		v, _ := VerifyWith(files[format], o)
		digests = append(digests, v.ContentSHA256)
	}
	for i := range digests {
		if digests[i] != digests[0] {
			t.Errorf("content digests differ between formats: %v", digests)
		}
	}
}

// A flipped byte anywhere in a schema-1 file fails: at the start, in the
// middle, in the embedded report JSON, in the integrity block, at the end.
func TestVerifySchemaV1FlippedByte(t *testing.T) {
	files, o := v1Files(t)
	for _, format := range Formats {
		data := files[format]
		start, err := locate(data)
		if err != nil {
			t.Fatal(err)
		}
		at := map[string]int{"first": 0, "middle": len(data) / 2, "integrity block": start + 40, "last": len(data) - 1}
		if format != "pdf" { // the PDF's report JSON is deflated
			at["report JSON"] = bytes.Index(data, []byte(`"printed_name"`)) + 3
			if format == "csv" {
				at["report JSON"] = bytes.Index(data, []byte("\ncanonical,")) + 40
			}
		}
		for where, i := range at {
			for _, bit := range []byte{0x01, 0x20} {
				bad := bytes.Clone(data)
				bad[i] ^= bit
				if _, err := VerifyWith(bad, o); err == nil {
					t.Errorf("%s: byte %d (%s) ^ %#x not detected", format, i, where, bit)
				}
			}
		}
	}
}

// sealV1JSON seals a schema-1 canonical report as a JSON rendering, the way
// the old version did (its JSON rendering and seal are today's), so tests
// can play a report-key holder who edits a schema-1 report and re-seals it.
func sealV1JSON(t testing.TB, canon []byte, key ed25519.PrivateKey) []byte {
	t.Helper()
	data := renderJSON(canon)
	if err := sealFile(data, "json", sha256Hex(canon), "", key, t0); err != nil {
		t.Fatal(err)
	}
	return data
}

// smallV1Canonical is the fixture report cut down to its header, one of
// each record and (signed) its signatures: a small fuzz seed.
func smallV1Canonical(t testing.TB, signed bool) []byte {
	t.Helper()
	r, err := parseCanonicalV1(v1Canonical(t))
	if err != nil {
		t.Fatal(err)
	}
	small := reportV1{V: 1, Header: r.Header, Tags: r.Tags[:1], Excursions: r.Excursions[:1], ColdChain: r.ColdChain[:1], Signals: r.Signals[:1],
		Rejects: r.Rejects[:1], Alarms: r.Alarms[:1], Audit: r.Audit[:1], Charts: []chartV1{}, Signatures: r.Signatures}
	small.Rejects[0].Points = small.Rejects[0].Points[:1]
	if !signed {
		small.Signatures = nil
	}
	b, err := json.Marshal(&small)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func v1Canonical(t testing.TB) []byte {
	t.Helper()
	files, _ := v1Files(t)
	canon, err := ExtractCanonical(files["json"], "json")
	if err != nil {
		t.Fatal(err)
	}
	return canon
}

// A report-key holder who edits a schema-1 report and re-seals it cannot
// keep its electronic signatures: each is bound to the schema-1 digest of
// the report without signatures, and sealed by the signing service.
func TestVerifySchemaV1Resealed(t *testing.T) {
	canon := v1Canonical(t)
	_, o := v1Files(t)
	_, key, _ := ed25519.GenerateKey(nil)
	opts := VerifyOptions{ReportKey: key.Public().(ed25519.PublicKey), SignerKeys: o.SignerKeys}
	if _, err := VerifyWith(sealV1JSON(t, canon, key), opts); err != nil {
		t.Fatalf("re-sealed unchanged: %v", err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"product changed", `"product":"Vaccine X 10 mL"`, `"product":"Vaccine Y 10 mL"`, "is bound to another report"},
		{"printed name edited", `"printed_name":"Pat Printed-Name"`, `"printed_name":"Pat Other-Name"`, "seal does not verify"},
		{"meaning edited", `"meaning":"review"`, `"meaning":"approval"`, "seal does not verify"},
		{"unknown field", `"v":1,`, `"v":1,"x":1,`, "unknown field"},
		{"not canonical", `"v":1,`, `"v":1 ,`, "not in canonical form"},
		{"schema-1 content as schema 2", `"v":1,`, `"v":2,`, "not in canonical form"},
		{"schema 3", `"v":1,`, `"v":3,`, "schema version 3 not supported (this linewatch verifies schema 1 and 2)"},
	} {
		edited := bytes.Replace(canon, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(edited, canon) {
			t.Fatalf("%s: %q not in the fixture", c.name, c.from)
		}
		_, err := VerifyWith(sealV1JSON(t, edited, key), opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// A schema-1 PDF has no standard PDF signature and verifies; a schema-2
// PDF sealed without one (by a report-key holder) does not.
func TestVerifyPDFWithoutPDFSignatureOnlySchema1(t *testing.T) {
	out, canon, err := renderUnsealed(smallReport(), "pdf")
	if err != nil {
		t.Fatal(err)
	}
	if err := sealFile(out, "pdf", sha256Hex(canon), "", fuzzKey, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(out, fuzzKey.Public().(ed25519.PublicKey)); err == nil || !strings.Contains(err.Error(), "PDF without its standard PDF signature") {
		t.Errorf("schema-2 PDF without a PDF signature: %v", err)
	}
}

// Signing needs the current model: a schema-1 report is refused with a
// message that says verify still checks it.
func TestParseCanonicalRefusesSchema1(t *testing.T) {
	_, err := ParseCanonical(v1Canonical(t))
	if err == nil || !strings.Contains(err.Error(), "schema version 1 not supported") || !strings.Contains(err.Error(), "`report verify` checks schema 1") {
		t.Errorf("ParseCanonical(schema 1): %v", err)
	}
}

// FuzzParseCanonicalV1: the schema-1 parser never panics, and what it
// accepts is canonical (re-encodes to the same bytes).
func FuzzParseCanonicalV1(f *testing.F) {
	// The fixture's report JSON (49 KB) stalls minimisation: a cut-down one.
	f.Add(smallV1Canonical(f, true))
	f.Add(smallV1Canonical(f, false))
	f.Add([]byte(`{"v":1,"header":{"site":"","line":"","batch":"","start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z","generated_at":"0001-01-01T00:00:00Z","generated_by":"","linewatch_version":"","config_file":"","config_sha256":"","samples_read":0,"analytics_note":""},"tags":null,"excursions":null,"cold_chain":null,"signals":null,"rejects":null,"alarms":null,"audit":null,"charts":null,"signatures":null}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"tags":[{"min":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseCanonicalV1(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(r)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted a non-canonical input: %v", err)
		}
		if _, errs := verifyESignaturesV1(r, nil); len(r.Signatures) > 0 && len(errs) == 0 {
			t.Fatal("signatures accepted without a trusted key")
		}
	})
}

// The audit cross-check of a schema-1 report compares its signatures with
// their report.signed entries and finds an entry of the same report (its
// schema-1 digest) whose signature the file does not carry.
func TestVerifySchemaV1AuditCrossCheck(t *testing.T) {
	files, o := v1Files(t)
	v, err := VerifyWith(files["html"], o)
	if err != nil {
		t.Fatal(err)
	}
	var entries []audit.Entry
	for _, es := range v.Signatures {
		entries = append(entries, audit.Entry{Seq: es.AuditSeq, Hash: es.AuditHash, Action: audit.ActionReportSigned, Actor: es.User, Time: es.Time,
			New: auditNew(es.Meaning, es.ReportDigest, es.Role), Reason: es.Meaning})
	}
	if errs := v.CrossCheck(entries); len(errs) != 0 {
		t.Errorf("cross-check with the matching entries: %v", errs)
	}
	if got := v.Unrecorded(entries); len(got) != 0 {
		t.Errorf("unrecorded with every signature carried: %+v", got)
	}
	extra := audit.Entry{Seq: 9, Action: audit.ActionReportSigned, Actor: "jane", Time: v.Signatures[1].Time,
		New: auditNew("responsibility", v.UnsignedSHA256, "qa_approver"), Reason: "responsibility"}
	if got := v.Unrecorded(append(entries, extra)); len(got) != 1 || got[0].Seq != 9 {
		t.Errorf("unrecorded: %+v, want seq 9", got)
	}
	entries[1].Actor = "mallory"
	if errs := v.CrossCheck(entries); len(errs) != 1 || !strings.Contains(errs[0].Error(), "electronic signature 2 (Pat Printed-Name, approval") {
		t.Errorf("cross-check with another actor: %v", errs)
	}
}
