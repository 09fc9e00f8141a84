package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

// TestAuditVerifyTimesInSiteZone: `audit verify` writes the signed head's
// time in the configured site zone, 24-hour and labelled, and in UTC
// without a config (issue 18: one clock everywhere).
func TestAuditVerifyTimesInSiteZone(t *testing.T) {
	head := &audit.Checkpoint{Seq: 11, KeyID: "k1", Time: time.Date(2026, 7, 2, 13, 5, 9, 0, time.UTC)}
	entries := make([]audit.Entry, 12)
	for i := range entries {
		entries[i].Seq = uint64(i + 1)
	}
	for _, c := range []struct {
		name string
		f    *display.Formatter
		want string
	}{
		{"Dublin", display.MustNew(&config.Config{TimeZone: "Europe/Dublin"}),
			"anchored: seq 1…11 match the checkpoint signed by key k1 at 2026-07-02 14:05:09 IST\n" +
				"not yet anchored (1 entries): seq 12…12 come after the last signed checkpoint\n" +
				"audit.jsonl: OK: 12 entries, seq 1…12, chain intact\n"},
		{"New York", display.MustNew(&config.Config{TimeZone: "America/New_York"}),
			"anchored: seq 1…11 match the checkpoint signed by key k1 at 2026-07-02 09:05:09 EDT\n" +
				"not yet anchored (1 entries): seq 12…12 come after the last signed checkpoint\n" +
				"audit.jsonl: OK: 12 entries, seq 1…12, chain intact\n"},
		{"no config", formatterOf(nil),
			"anchored: seq 1…11 match the checkpoint signed by key k1 at 2026-07-02 13:05:09 UTC\n" +
				"not yet anchored (1 entries): seq 12…12 come after the last signed checkpoint\n" +
				"audit.jsonl: OK: 12 entries, seq 1…12, chain intact\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printAnchoring(&out, c.f, "audit.jsonl", entries, audit.Anchoring{Head: head, Unanchored: 1}, false); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), c.want)
			}
		})
	}
}
