package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// The acceptance check: five different mistakes, all reported in
// one run with their line numbers, exit 1.
func TestConfigCheckReportsEveryMistake(t *testing.T) {
	code, out, _ := run(t, "config", "check", "-c", "../../config/testdata/bad/five-mistakes.yaml")
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d", code, ExitFailure)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	wantPrefixes := []string{":1:7: site", ":4:3: influxdb.batch_sise", ":10:26: lines[0].machines[0].security_policy",
		":15:11: lines[0].machines[0].auth.password", ":18:22: lines[0].machines[0].tags[0].node_id",
		":23:19: lines[0].machines[0].tags[1].role", ":26:23: lines[0].machines[0].poll_groups[0].interval"}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(wantPrefixes), out)
	}
	for i, w := range wantPrefixes {
		if !strings.Contains(lines[i], "five-mistakes.yaml"+w) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
	code, out, _ = run(t, "config", "check", "-c", "../../config/testdata/good/demo.yaml")
	if code != ExitOK || !strings.Contains(out, "OK: site demo-plant, 4 lines, 5 machines, 26 tags") {
		t.Fatalf("good config: exit %d, %q", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	if code, _, _ := run(t, "no-such-command"); code == ExitOK {
		t.Error("unknown command exited 0")
	}
	if code, _, _ := run(t, "config", "check", "--bogus"); code != ExitUsage {
		t.Errorf("bad flag: exit %d, want %d", code, ExitUsage)
	}
	if code, out, _ := run(t, "version"); code != ExitOK || !strings.HasPrefix(out, "linewatch ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestAnalyzeReplayCSV(t *testing.T) {
	csv := "time,line,machine,tag,value,quality\n"
	for i := range 60 {
		v := "5.0"
		if i >= 20 && i < 40 {
			v = "9.5" // above hi = 8 for 20 s, longer than the 10 s on-delay
		}
		csv += "2026-11-23T08:00:" + twoDigits(i) + "Z,coldroom1,coldroom,temp_probe1," + v + ",0\n"
	}
	f := filepath.Join(t.TempDir(), "data.csv")
	os.WriteFile(f, []byte(csv), 0o600)
	code, out, errOut := run(t, "analyze", "replay", "--input", f)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"time":"2026-11-23T08:00:30Z","line":"coldroom1","machine":"coldroom","tag":"temp_probe1","detector":"limits","rule":"hi","active":true`) {
		t.Fatalf("no hi finding at 08:00:30 (20 s + 10 s on-delay):\n%s", out)
	} // The table writes the tag's unit and decimals and the site zone, and
	// so does the limit alarm's message (issue 18).
	code, out, errOut = run(t, "analyze", "replay", "--input", f, "--format", "table")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "2026-11-23 08:00:30 UTC  coldroom1/coldroom/temp_probe1  limits    hi    ACTIVE  9.50 °C  9.50 °C    8.00 °C") ||
		!strings.Contains(out, "temp_probe1 hi alarm started: 9.50 °C, above the limit (limit 8.00 °C) since 2026-11-23 08:00:20 UTC") {
		t.Fatalf("table:\n%s", out)
	}
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10), byte('0' + i%10)}) }
