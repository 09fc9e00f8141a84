package console

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
)

// FuzzParseHistory: whatever query string a browser sends, parsing does
// not panic, and an accepted line can only be a plain subject token (no
// NATS wildcard or separator reaches the consumer's filter subject).
func FuzzParseHistory(f *testing.F) {
	for _, s := range []string{"", "before=12&limit=3", "line=L1&tag=weight&priority=urgent&q=door", "line=L1.*", "line=>", "limit=-1",
		"q=%00%ff", "before=18446744073709551616", "priority=URGENT", "line=" + strings.Repeat("a", 200), "from=2026-03-02T07:03&to=2026-03-02T07:05", "from=2026-03-02T07:05Z&to=2026-03-02", "to=yesterday"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseHistory(v, "plant1", time.UTC)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refusal without a message")
			}
			return
		}
		if strings.ContainsAny(q.Line, ".*> \t\r\n") || len(q.Line) > 128 || q.Site != "plant1" || q.Limit < 1 || q.Limit > 200 {
			t.Fatalf("accepted %q as %+v", raw, q)
		}
		q.Match(alerts.Transition{Alarm: alerts.Alarm{ID: "plant1/L1/m/t/limits/hi", Message: "Ünïcode ✓"}})
	})
}
