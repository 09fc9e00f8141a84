package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/internal/edkey"
)

// Schema 1 is the report JSON of linewatch up to commit 36b3a6a. Archived,
// signed schema-1 reports must verify for as long as they are kept (21 CFR
// Part 11 records), so its model is frozen here: copies of the structs as
// they were (json.Marshal of reportV1 is the schema-1 canonical form), the
// digest e-signatures are bound to and the message their seal signs. Never
// edit these types; testdata/v1 holds files the old version made, and
// TestVerifySchemaV1Fixtures fails if a byte of the encoding moves. Num
// and the Ed25519/SHA-256 primitives are shared: their encoding is part of
// every schema.
const schemaV1 = 1

// reportV1 is Report as schema 1 encoded it; the types below are the
// schema-1 types it holds.
type reportV1 struct {
	V           int             `json:"v"`
	Header      headerV1        `json:"header"`
	Tags        []tagStatsV1    `json:"tags"`
	Excursions  []excursionV1   `json:"excursions"`
	ColdChain   []coldChainV1   `json:"cold_chain"`
	Signals     []signalV1      `json:"signals"`
	SignalsLeft int             `json:"signals_omitted,omitempty"`
	Rejects     []rejectStatsV1 `json:"rejects"`
	Alarms      []alarmRecordV1 `json:"alarms"`
	Audit       []auditEntryV1  `json:"audit"`
	Charts      []chartV1       `json:"charts"`
	Signatures  []eSignatureV1  `json:"signatures"`
}

type headerV1 struct {
	Site          string    `json:"site"`
	Line          string    `json:"line"`
	LineName      string    `json:"line_name,omitempty"`
	Product       string    `json:"product,omitempty"`
	Batch         string    `json:"batch"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	GeneratedAt   time.Time `json:"generated_at"`
	GeneratedBy   string    `json:"generated_by"`
	Version       string    `json:"linewatch_version"`
	ConfigFile    string    `json:"config_file"`
	ConfigSHA256  string    `json:"config_sha256"`
	SamplesRead   int64     `json:"samples_read"`
	AnalyticsNote string    `json:"analytics_note"`
}

type gapV1 struct {
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Duration time.Duration `json:"duration_ns"`
}

type tagStatsV1 struct {
	Machine      string        `json:"machine"`
	Tag          string        `json:"tag"`
	Unit         string        `json:"unit,omitempty"`
	Role         string        `json:"role,omitempty"`
	Critical     bool          `json:"critical,omitempty"`
	Count        int64         `json:"count"`
	Good         int64         `json:"good"`
	Min          Num           `json:"min"`
	Max          Num           `json:"max"`
	Mean         Num           `json:"mean"`
	StdDev       Num           `json:"std_dev"`
	LSL          Num           `json:"lsl"`
	USL          Num           `json:"usl"`
	Cpk          Num           `json:"cpk"`
	Ppk          Num           `json:"ppk"`
	BadShare     Num           `json:"bad_share"`
	PollInterval time.Duration `json:"poll_interval_ns,omitempty"`
	Gaps         []gapV1       `json:"gaps"`
	GapsOmitted  int           `json:"gaps_omitted,omitempty"`
}

type excursionV1 struct {
	Machine       string        `json:"machine"`
	Tag           string        `json:"tag"`
	Rule          string        `json:"rule"`
	Limit         Num           `json:"limit"`
	Start         time.Time     `json:"start"`
	End           time.Time     `json:"end,omitzero"`
	Duration      time.Duration `json:"duration_ns"`
	Peak          Num           `json:"peak"`
	DegreeMinutes Num           `json:"degree_minutes"`
	Open          bool          `json:"open,omitempty"`
}

type coldChainV1 struct {
	Machine     string        `json:"machine"`
	Tag         string        `json:"tag"`
	MKT         Num           `json:"mkt_c"`
	MKTLimit    Num           `json:"mkt_limit_c"`
	Activation  Num           `json:"delta_h_over_r_k"`
	MKTOK       bool          `json:"mkt_ok"`
	TORUsed     time.Duration `json:"tor_used_ns"`
	TORBudget   time.Duration `json:"tor_budget_ns"`
	TORLow      Num           `json:"tor_low_c"`
	TORHigh     Num           `json:"tor_high_c"`
	TOROK       bool          `json:"tor_ok"`
	HasMKT      bool          `json:"has_mkt"`
	HasTOR      bool          `json:"has_tor"`
	Description string        `json:"description"`
}

type signalV1 struct {
	Time     time.Time `json:"time"`
	End      time.Time `json:"end,omitzero"`
	Machine  string    `json:"machine"`
	Tag      string    `json:"tag"`
	Detector string    `json:"detector"`
	Rule     string    `json:"rule,omitempty"`
	Value    Num       `json:"value"`
	Limit    Num       `json:"limit"`
	Severity string    `json:"severity"`
	Message  string    `json:"message"`
}

type pPointV1 struct {
	Time time.Time `json:"time"`
	P    Num       `json:"p"`
	N    Num       `json:"n"`
	UCL  Num       `json:"ucl"`
	LCL  Num       `json:"lcl"`
}

type rejectStatsV1 struct {
	Machine        string     `json:"machine"`
	GoodTag        string     `json:"good_tag"`
	RejectTag      string     `json:"reject_tag"`
	Good           Num        `json:"good"`
	Rejects        Num        `json:"rejects"`
	RejectFraction Num        `json:"reject_fraction"`
	YieldPct       Num        `json:"yield_pct"`
	YieldMinPct    Num        `json:"yield_min_pct"`
	YieldOK        bool       `json:"yield_ok"`
	PBar           Num        `json:"p_bar"`
	Subgroup       string     `json:"subgroup"`
	Points         []pPointV1 `json:"points"`
	OutOfControl   int        `json:"out_of_control"`
}

type alarmEventV1 struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	ProcessTime time.Time `json:"process_time,omitzero"`
	Event       string    `json:"event"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	By          string    `json:"by,omitempty"`
	Reason      string    `json:"reason,omitempty"`
}

type alarmRecordV1 struct {
	ID       string         `json:"id"`
	Machine  string         `json:"machine"`
	Tag      string         `json:"tag"`
	Detector string         `json:"detector"`
	Rule     string         `json:"rule,omitempty"`
	Priority string         `json:"priority"`
	Message  string         `json:"message"`
	Events   []alarmEventV1 `json:"events"`
}

type chartPointV1 struct {
	Time time.Time `json:"time"`
	Min  Num       `json:"min"`
	Max  Num       `json:"max"`
	Mean Num       `json:"mean"`
}

type chartV1 struct {
	Machine string         `json:"machine"`
	Tag     string         `json:"tag"`
	Unit    string         `json:"unit,omitempty"`
	Limits  []limitV1      `json:"limits"`
	Points  []chartPointV1 `json:"points"`
}

type limitV1 struct {
	Name  string `json:"name"`
	Value Num    `json:"value"`
}

type eSignatureV1 struct {
	User         string    `json:"user"`
	Name         string    `json:"printed_name"`
	Role         string    `json:"role,omitempty"`
	Meaning      string    `json:"meaning"`
	Time         time.Time `json:"time"`
	ReportDigest string    `json:"report_digest"`
	KeyID        string    `json:"key_id"`
	AuditSeq     uint64    `json:"audit_seq,omitempty"`
	AuditHash    string    `json:"audit_hash,omitempty"`
	Seal         string    `json:"seal"`
}

type auditEntryV1 struct {
	V      int       `json:"v"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Object string    `json:"object"`
	Old    string    `json:"old,omitempty"`
	New    string    `json:"new,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Prev   string    `json:"prev"`
	Hash   string    `json:"hash"`
}

// meaningsV1 are the e-signature meanings of schema 1.
var meaningsV1 = []string{"review", "approval", "responsibility"}

// esMessageV1 is what the seal of a schema-1 e-signature signs.
func esMessageV1(es eSignatureV1) []byte {
	return []byte(strings.Join([]string{"linewatch-esignature-v2", es.ReportDigest, es.User, es.Name, es.Role, es.Meaning,
		es.Time.UTC().Format(time.RFC3339Nano), es.KeyID, strconv.FormatUint(es.AuditSeq, 10), es.AuditHash}, "\x00"))
}

// current is the signature in today's type, for display and the audit
// cross-check (which compare fields, not encodings).
func (es eSignatureV1) current() ESignature {
	return ESignature{User: es.User, Name: es.Name, Role: es.Role, Meaning: es.Meaning, Time: es.Time, ReportDigest: es.ReportDigest,
		KeyID: es.KeyID, AuditSeq: es.AuditSeq, AuditHash: es.AuditHash, Seal: es.Seal}
}

// unsignedDigestV1 is the SHA-256 of the schema-1 canonical report without
// its electronic signatures.
func (r *reportV1) unsignedDigest() (string, error) {
	c := *r
	c.Signatures = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("canonical schema-1 report JSON: %w", err)
	}
	return sha256Hex(b), nil
}

// parseCanonicalV1 decodes a schema-1 canonical report strictly and checks
// that it is canonical.
func parseCanonicalV1(canon []byte) (*reportV1, error) {
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.DisallowUnknownFields()
	var r reportV1
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("embedded report JSON (schema 1): %w", err)
	}
	if dec.More() {
		return nil, errors.New("embedded report JSON (schema 1): trailing data")
	}
	if r.V != schemaV1 {
		return nil, fmt.Errorf("embedded report JSON: schema version %d, want 1", r.V)
	}
	again, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("canonical schema-1 report JSON: %w", err)
	}
	if !bytes.Equal(again, canon) {
		return nil, errors.New("embedded report JSON (schema 1) is not in canonical form (it was edited)")
	}
	return &r, nil
}

// verifyESignaturesV1 checks the e-signatures of a schema-1 report, bound
// to its schema-1 digest without signatures.
func verifyESignaturesV1(r *reportV1, keys edkey.Keyring) (string, []error) {
	digest, err := r.unsignedDigest()
	if err != nil {
		return "", []error{err}
	}
	sigs := make([]ESignature, len(r.Signatures))
	for i, es := range r.Signatures {
		sigs[i] = es.current()
	}
	return digest, checkESignatures(sigs, digest, meaningsV1, func(i int) []byte { return esMessageV1(r.Signatures[i]) }, keys, nil)
}
