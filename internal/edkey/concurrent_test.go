package edkey

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// childEnv makes the test binary a key-loading child process (see
// TestLoadOrGenerateConcurrent): it loads or generates the key at the
// path in the variable from several goroutines once its stdin closes,
// and prints each key's id.
const childEnv = "EDKEY_TEST_CHILD_KEY"

const goroutines = 8

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		io.Copy(io.Discard, os.Stdin) // the start signal: stdin closes
		for _, r := range loadAtOnce(path, goroutines) {
			fmt.Println(r)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// loadAtOnce calls LoadOrGenerate(path) from n goroutines released at
// once; each result is a KeyID or "error: …".
func loadAtOnce(path string, n int) []string {
	out := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			k, err := LoadOrGenerate(path)
			if err != nil {
				out[i] = "error: " + err.Error()
				return
			}
			out[i] = KeyID(k.Public().(ed25519.PublicKey))
		})
	}
	close(start)
	wg.Wait()
	return out
}

// All roles started together on a fresh data dir: two processes, each
// with several goroutines, load-or-generate the same key at once. Each
// gets the key the files hold (none reads a half-written file or keeps
// a key another one replaced), and no temporary file is left.
func TestLoadOrGenerateConcurrent(t *testing.T) {
	for round := range 20 {
		dir := filepath.Join(t.TempDir(), "keys")
		path := filepath.Join(dir, "audit.key")
		var results []string
		if round%4 == 0 { // real processes (slower): every fourth round
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			var (
				outs  []*bufio.Scanner
				gates []io.Closer
				cmds  []*exec.Cmd
			)
			for range 2 {
				cmd := exec.Command(exe, "-test.run=^$")
				cmd.Env = append(os.Environ(), childEnv+"="+path)
				cmd.Stderr = os.Stderr
				stdin, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				cmds, gates, outs = append(cmds, cmd), append(gates, stdin), append(outs, bufio.NewScanner(stdout))
			}
			for _, g := range gates { // both started: go
				g.Close()
			}
			// This process joins in too.
			results = append(results, loadAtOnce(path, goroutines)...)
			for i, sc := range outs {
				for sc.Scan() {
					results = append(results, sc.Text())
				}
				if err := cmds[i].Wait(); err != nil {
					t.Fatalf("child %d: %v", i, err)
				}
			}
			if len(results) != 3*goroutines {
				t.Fatalf("%d results, want %d: %q", len(results), 3*goroutines, results)
			}
		} else {
			results = loadAtOnce(path, 32)
		}
		onDisk, err := LoadPrivate(path)
		if err != nil {
			t.Fatal(err)
		}
		want := KeyID(onDisk.Public().(ed25519.PublicKey))
		for i, r := range results {
			if r != want {
				t.Fatalf("round %d, caller %d: %s, want the key on disk %s (all: %q)", round, i, r, want, results)
			}
		}
		pub, err := LoadPublic(PublicFile(path))
		if err != nil || !pub.Equal(onDisk.Public()) {
			t.Fatalf("round %d: public key file does not match the private key: %v", round, err)
		}
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) != 2 {
			t.Fatalf("round %d: key directory holds %s, want the key and its .pub", round, strings.Join(names, ", "))
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("round %d: key mode %v, want 0600", round, st.Mode().Perm())
		}
	}
}
