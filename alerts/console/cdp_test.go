package console_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/linewatch/linewatch/internal/testenv"
)

// chromiumPath is the Debian package's binary; nothing else is tried.
const chromiumPath = "/usr/bin/chromium"

// browser is a headless Chromium driven over the Chrome DevTools Protocol
// with a minimal client (no CDP library is in the module graph).
type browser struct {
	t    *testing.T
	cmd  *exec.Cmd
	page *cdpConn
}

type cdpConn struct {
	t       *testing.T
	ws      *websocket.Conn
	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpResponse
	wg      sync.WaitGroup
}

type cdpResponse struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Params json.RawMessage `json:"params"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	testenv.SkipShort(t, "headless Chromium")
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("chromium not installed: run `make test-deps` (apt-get install chromium)")
	}
	dir := t.TempDir()
	cmd := exec.Command(chromiumPath,
		"--headless", "--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,800", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // to stop its helper processes too
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, cmd: cmd}
	var drain sync.WaitGroup
	t.Cleanup(func() {
		if b.page != nil {
			b.page.close()
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		drain.Wait()
	})
	wsURL := make(chan string, 1)
	drain.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "DevTools listening on "); ok {
				wsURL <- u
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	})
	var browserURL string
	select {
	case browserURL = <-wsURL:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not report its DevTools address within 30 s")
	}
	bc := dialCDP(t, browserURL)
	var target struct {
		TargetID string `json:"targetId"`
	}
	bc.call("Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	bc.close()
	// ws://127.0.0.1:PORT/devtools/browser/ID → ws://127.0.0.1:PORT/devtools/page/TARGET
	base := browserURL[:strings.Index(browserURL, "/devtools/")]
	b.page = dialCDP(t, base+"/devtools/page/"+target.TargetID)
	b.page.call("Page.enable", nil, nil)
	b.page.call("Runtime.enable", nil, nil)
	return b
}

func dialCDP(t *testing.T, url string) *cdpConn {
	t.Helper()
	ws, err := websocket.Dial(url, "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("CDP dial %s: %v", url, err)
	}
	ws.MaxPayloadBytes = 64 << 20
	c := &cdpConn{t: t, ws: ws, pending: map[int]chan cdpResponse{}}
	c.wg.Go(c.read)
	return c
}

func (c *cdpConn) read() {
	for {
		var r cdpResponse
		if err := websocket.JSON.Receive(c.ws, &r); err != nil {
			c.mu.Lock()
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		if r.ID == 0 {
			if r.Method == "Runtime.exceptionThrown" || r.Method == "Runtime.consoleAPICalled" {
				c.t.Logf("browser %s: %s", r.Method, r.Params)
			}
			continue
		}
		c.mu.Lock()
		ch := c.pending[r.ID]
		delete(c.pending, r.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

func (c *cdpConn) close() {
	c.ws.Close()
	c.wg.Wait()
}

// call runs one CDP method and decodes its result.
func (c *cdpConn) call(method string, params, result any) {
	c.t.Helper()
	if err := c.try(method, params, result); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cdpConn) try(method string, params, result any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpResponse, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	if params == nil {
		params = map[string]any{}
	}
	if err := websocket.JSON.Send(c.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return fmt.Errorf("CDP %s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("CDP %s: connection closed", method)
		}
		if r.Error != nil {
			return fmt.Errorf("CDP %s: %s", method, r.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("CDP %s: no answer within 30 s", method)
	}
}

// eval evaluates a JS expression (awaiting promises) and decodes its value.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.page.call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("JS %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			b.t.Fatalf("JS %s: decode %s: %v", expr, r.Result.Value, err)
		}
	}
}

// waitFor waits, inside the page, until the JS condition is truthy; the
// browser re-checks on every DOM change rather than on a timer.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	js := fmt.Sprintf(`new Promise((resolve, reject) => {
  const check = () => { try { return !!(%s); } catch (e) { return false; } };
  if (check()) return resolve(true);
  const obs = new MutationObserver(() => { if (check()) { obs.disconnect(); clearTimeout(t); resolve(true); } });
  obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  const t = setTimeout(() => { obs.disconnect(); reject(new Error("timeout: %s")); }, 15000);
})`, cond, strings.ReplaceAll(what, `"`, `'`))
	b.eval(js, nil)
}

func (b *browser) navigate(url string) {
	b.t.Helper()
	b.page.call("Page.navigate", map[string]any{"url": url}, nil)
}

// click presses and releases the left mouse button on the element's centre,
// as a user would.
func (b *browser) click(selector string) {
	b.t.Helper()
	var box struct{ X, Y float64 }
	b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) throw new Error("no element " + %q);
  e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect(); return {X: r.x + r.width/2, Y: r.y + r.height/2}; })()`, selector, selector), &box)
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		b.page.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}, nil)
	}
}

// typeInto focuses an input and types text with key events.
func (b *browser) typeInto(selector, text string) {
	b.t.Helper()
	b.click(selector)
	b.page.call("Input.insertText", map[string]any{"text": text}, nil)
}

func (b *browser) screenshot(path string) {
	b.t.Helper()
	var r struct {
		Data []byte `json:"data"` // base64 in JSON → []byte
	}
	b.page.call("Page.captureScreenshot", map[string]any{"format": "png"}, &r)
	if len(r.Data) < 1000 {
		b.t.Fatalf("screenshot is only %d bytes", len(r.Data))
	}
	if err := os.WriteFile(path, r.Data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// viewport sets the page's layout size in CSS pixels (a panel PC at 800
// wide, a desktop at 1400).
func (b *browser) viewport(width, height int) {
	b.t.Helper()
	b.page.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
}

// keepScreenshot writes a screenshot to $LW_CONSOLE_SHOTS/name when that
// directory is set (docs/console.md: how the screenshots in docs/ are made).
func (b *browser) keepScreenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("LW_CONSOLE_SHOTS")
	if dir == "" {
		path := filepath.Join(b.t.TempDir(), name)
		b.screenshot(path)
		return
	}
	b.screenshot(filepath.Join(dir, name))
}
