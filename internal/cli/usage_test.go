package cli

import (
	"strings"
	"testing"
)

// A missing or extra argument is a usage mistake (exit 2) on every
// command, as a bad flag is, and says what was expected.
func TestArgumentErrorsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"alarms", "ack"},
		{"report", "verify"},
		{"report", "verify", "a.pdf", "b.pdf"},
		{"console", "adduser"},
	} {
		code, _, stderr := run(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, "arg") {
			t.Errorf("linewatch %s: exit %d, stderr %q; want exit %d naming the arguments", strings.Join(args, " "), code, stderr, ExitUsage)
		}
	}
}
