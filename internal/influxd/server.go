package influxd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options for Start.
type Options struct {
	// DataDir holds meta, data and wal; it survives Stop/Start.
	DataDir string
	// HTTPAddr is the API address; "" picks a free loopback port.
	HTTPAddr string
	// Auth enables authentication with an admin User and Password.
	Auth           bool
	User, Password string
	// LogFile receives influxd's output; "" discards it.
	LogFile string
}

// Server is a running influxd child process.
type Server struct {
	opts Options
	path string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start installs (if needed) and starts influxd, and waits until it answers /ping.
func Start(ctx context.Context, opts Options) (*Server, error) {
	path, err := Install(ctx)
	if err != nil {
		return nil, err
	}
	if opts.DataDir == "" {
		return nil, errors.New("influxd: DataDir required")
	}
	if opts.HTTPAddr == "" {
		if opts.HTTPAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	s := &Server{opts: opts, path: path}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	if opts.Auth {
		if err := s.createAdmin(ctx); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// URL is the HTTP API base URL.
func (s *Server) URL() string { return "http://" + s.opts.HTTPAddr }

// Addr is the HTTP API host:port.
func (s *Server) Addr() string { return s.opts.HTTPAddr }

func (s *Server) start(ctx context.Context) error {
	if err := os.MkdirAll(s.opts.DataDir, 0o755); err != nil {
		return fmt.Errorf("influxd: %w", err)
	}
	rpcAddr, err := freeAddr()
	if err != nil {
		return err
	}
	conf := filepath.Join(s.opts.DataDir, "influxdb.conf")
	if err := os.WriteFile(conf, []byte(configFile(s.opts, rpcAddr)), 0o644); err != nil {
		return fmt.Errorf("influxd: %w", err)
	}
	// Not CommandContext: the server must outlive the start call's context.
	cmd := exec.Command(s.path, "run", "-config", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.opts.LogFile != "" {
		f, err := os.OpenFile(s.opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("influxd: %w", err)
		}
		defer f.Close() // the child has its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("influxd: start %s: %w", s.path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return s.waitReady(ctx, done)
}

func (s *Server) waitReady(ctx context.Context, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/ping", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("influxd exited during start (see %s)", s.opts.LogFile)
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("influxd: not ready at %s: %w", s.URL(), ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop terminates influxd (SIGTERM, then SIGKILL after 10 s) and waits.
func (s *Server) Stop() error {
	cmd, done := s.take()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	return nil
}

// Restart starts a stopped server again on the same address and data.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	return s.start(ctx)
}

// Query runs an InfluxQL statement (POST /query) and returns the raw JSON.
func (s *Server) Query(ctx context.Context, db, q string) ([]byte, error) {
	form := url.Values{"q": {q}}
	if db != "" {
		form.Set("db", db)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.opts.Auth {
		req.SetBasicAuth(s.opts.User, s.opts.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influxd query %q: %w", q, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(buf.Bytes(), []byte(`"error"`)) {
		return nil, fmt.Errorf("influxd query %q: %s: %s", q, resp.Status, strings.TrimSpace(buf.String()))
	}
	return buf.Bytes(), nil
}

func (s *Server) createAdmin(ctx context.Context) error {
	_, err := s.Query(ctx, "", fmt.Sprintf("CREATE USER %q WITH PASSWORD '%s' WITH ALL PRIVILEGES", s.opts.User, strings.ReplaceAll(s.opts.Password, "'", `\'`)))
	return err
}

func configFile(o Options, rpcAddr string) string {
	d := o.DataDir
	return fmt.Sprintf(`reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
  logging-enabled = false
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  trace-logging-enabled = false
[coordinator]
  log-queries-after = "0s"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = %q
  auth-enabled = %t
  flux-enabled = true
  log-enabled = false
  write-tracing = false
  max-body-size = 0
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
`, rpcAddr, filepath.Join(d, "meta"), filepath.Join(d, "data"), filepath.Join(d, "wal"), o.HTTPAddr, o.Auth)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("influxd: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Kill ends the server with SIGKILL (a crash: no shutdown of its own);
// Restart starts it again on the same address and data.
func (s *Server) Kill() error {
	cmd, done := s.take()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill influxd (pid %d): %w", cmd.Process.Pid, err)
	}
	<-done
	return nil
}

// take returns the running process, if any, which is from now on the
// caller's to end.
func (s *Server) take() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	return cmd, done
}
