package cli

import (
	"context"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/simulator"
)

// TestGopcuaLogGoesThroughSlogAtDebug: gopcua's nodeset import prints "New
// Node Set …" with package log at every simulated server start; with the
// CLI's logger it shows only at --log-level debug (issue 18).
func TestGopcuaLogGoesThroughSlogAtDebug(t *testing.T) {
	t.Cleanup(func() { log.SetOutput(os.Stderr); log.SetFlags(log.LstdFlags) })
	for _, c := range []struct {
		level string
		shown bool
	}{{"info", false}, {"warn", false}, {"debug", true}} {
		var b syncBuffer
		lg, err := newLogger(&b, c.level)
		if err != nil {
			t.Fatal(err)
		}
		sim, err := simulator.Start(context.Background(), simulator.Options{Logger: lg, AllowAnonymous: true})
		if err != nil {
			t.Fatal(err)
		}
		sim.Close()
		out := b.String()
		if got := strings.Contains(out, "New Node Set"); got != c.shown {
			t.Errorf("level %s: gopcua's nodeset lines shown=%t, want %t:\n%s", c.level, got, c.shown, out)
		}
		if c.shown && !strings.Contains(out, "level=DEBUG") {
			t.Errorf("level %s: not at debug level:\n%s", c.level, out)
		}
	}
}
