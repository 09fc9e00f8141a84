package console_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/linewatch/linewatch/alerts/console"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"

	"github.com/linewatch/linewatch/identity"
)

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

const (
	alicePW  = "correct horse battery"
	victorPW = "viewer password 1"
	samPW    = "supervisor password 2"
)

// usersFile uses bcrypt's minimum cost: the production cost (12) takes
// seconds per login under -race. TestHashUserAndParse covers HashUser.
var usersFile = sync.OnceValues(func() (string, error) {
	var lines []string
	for _, u := range [][3]string{{"alice", identity.RoleOperator, alicePW}, {"victor", identity.RoleViewer, victorPW}, {"sam", identity.RoleSupervisor, samPW}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u[2]), bcrypt.MinCost)
		if err != nil {
			return "", err
		}
		lines = append(lines, u[0]+":"+u[1]+":"+string(h))
	}
	return "# linewatch console users\n" + strings.Join(lines, "\n") + "\n", nil
})

func writeUsers(t *testing.T) string {
	t.Helper()
	content, err := usersFile()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

type consoleRig struct {
	url  string
	srv  *console.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	clk  *clock.Fake
	svc  *alarmService
	file string
	stop func() // shut the console down and wait for Serve to return
}

type rigOpts struct {
	noService bool
	tls       *tls.Config
	machines  []string // console.Options.Machines
	cfg       *config.Config
	samples   func(ctx context.Context, q store.SampleQuery) iter.Seq2[sample.Sample, error]
}

func startConsole(t *testing.T, ro rigOpts) *consoleRig {
	t.Helper()
	nc, js := testenv.NATSConn(t)
	file := writeUsers(t)
	clk := clock.NewFake(t0)
	r := &consoleRig{nc: nc, js: js, clk: clk, file: file}
	if !ro.noService {
		r.svc = newAlarmService(t, nc, js, clk, file)
	}
	var err error
	r.srv, err = console.New(console.Options{NATS: nc, Site: "plant1", UsersFile: file, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), CommandTimeout: 2 * time.Second, Machines: ro.machines,
		Config: ro.cfg, Samples: ro.samples})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.srv.Serve(ctx, ln, ro.tls) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("console did not shut down within 10 s")
			}
		})
	}
	t.Cleanup(r.stop)
	scheme := "http"
	if ro.tls != nil {
		scheme = "https"
	}
	r.url = scheme + "://" + ln.Addr().String()
	return r
}

type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (r *consoleRig) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: r.url, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// do sends a request and decodes the JSON answer into a map.
func (c *client) do(method, path string, body any, hdr ...string) (int, map[string]any, *http.Response) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp
}

func (c *client) login(user, pw string) {
	c.t.Helper()
	code, m, _ := c.do("POST", "/api/login", map[string]string{"user": user, "password": pw})
	if code != 200 {
		c.t.Fatalf("login %s: %d %v", user, code, m)
	}
	c.csrf, _ = m["csrf"].(string)
}

type sseEvent struct {
	name string
	data map[string]any
}

// events opens the SSE stream and returns parsed events.
func (c *client) events() <-chan sseEvent {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/events", nil)
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		c.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[len("data: "):]), &ev.data)
			case line == "" && ev.name != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	})
	c.t.Cleanup(func() { cancel(); resp.Body.Close(); wg.Wait() })
	return ch
}

// waitEvent returns the first event for which match is true.
func waitEvent(t *testing.T, ch <-chan sseEvent, what string, match func(sseEvent) bool) sseEvent {
	t.Helper()
	timeout := time.After(30 * time.Second) // generous: CI machines are loaded
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event stream ended while waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("timeout waiting for %s", what)
		}
	}
}

// isAlarmUpdate matches the update of the summary row whose lead alarm
// is id, in state.
func isAlarmUpdate(id, state string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		if ev.name != "update" || ev.data["type"] != "row" {
			return false
		}
		r, _ := ev.data["row"].(map[string]any)
		return r["id"] == id && r["state"] == state
	}
}

// isRowRemoved matches the removal of the summary row of a condition.
func isRowRemoved(key string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		return ev.name == "update" && ev.data["type"] == "remove" && ev.data["key"] == key
	}
}

// testConfig is a one-line plant in Europe/Berlin (shelve_max 1 h): L1/filler/weight in g
// with 2 decimals, hi 10 and hihi 12; L1/coldroom/temp in °C with 1.
func testConfig() *config.Config {
	two, one := 2, 1
	f := func(x float64) *float64 { return &x }
	return &config.Config{Site: "plant1", TimeZone: "Europe/Berlin", Alarms: config.Alarms{ShelveMax: time.Hour}, Lines: []config.Line{{ID: "L1", Machines: []config.Machine{
		{ID: "filler", Tags: []config.Tag{{Name: "weight", Unit: "g", Decimals: &two, Limits: config.Limits{Hi: f(10), HiHi: f(12)}}}},
		{ID: "coldroom", Tags: []config.Tag{{Name: "temp", Unit: "°C", Decimals: &one, Limits: config.Limits{Hi: f(8)}}}},
	}}}}
}
