package console

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

//go:embed static
var staticFS embed.FS

// Options configures a Server.
type Options struct {
	NATS *nats.Conn
	// Site limits the console to one site's alarms ("" = all sites).
	Site string
	// UsersFile holds "user:role:bcrypt-hash" lines; it is re-read when it
	// changes, so adding or removing a user needs no restart.
	UsersFile string
	Logger    *slog.Logger
	Clock     clock.Clock
	// CommandTimeout bounds the wait for the alarm service's reply (default 5s).
	CommandTimeout time.Duration
	// Machines lists the plant's machines as "line/machine" for the health
	// strip (OPC UA state per machine, from the system alarms).
	Machines []string
	// SecureCookies forces the Secure cookie flag when TLS ends at a proxy
	// in front of the console (it is always set when the console serves TLS).
	SecureCookies bool
	// Config, when set, gives the site time zone, each tag's unit and
	// decimals (every value and time the page shows is formatted by the
	// server with display.Formatter) and the limits drawn on trends.
	Config *config.Config
	// Samples reads telemetry for the trend of a tag around an alarm
	// (store.Client.Samples); nil: the page says no trend is available.
	Samples func(ctx context.Context, q store.SampleQuery) iter.Seq2[sample.Sample, error]
}

// Server is the operator console.
type Server struct {
	opts     Options
	log      *slog.Logger
	clk      clock.Clock
	js       jetstream.JetStream
	hub      *hub
	sessions *sessions
	limiter  *identity.Limiter
	static   fs.FS
	fmt      *display.Formatter
	reader   *alerts.Reader

	dir       *identity.Directory
	usersMu   sync.Mutex
	usersSeen identity.Users // the copy sessions were last checked against

	feedOnce sync.Once
	feedWG   sync.WaitGroup
	stopping chan struct{}
	stopOnce sync.Once
}

// New loads the users file and prepares the console; Run (or Serve)
// starts the NATS feeds and the HTTP server.
func New(o Options) (*Server, error) {
	if o.NATS == nil {
		return nil, errors.New("console: Options.NATS is required")
	}
	dir, err := identity.NewDirectory(o.UsersFile, o.Logger)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Second
	}
	js, err := jetstream.New(o.NATS)
	if err != nil {
		return nil, fmt.Errorf("console: JetStream: %w", err)
	}
	s := &Server{opts: o, log: o.Logger, clk: o.Clock, js: js, dir: dir, reader: alerts.NewReader(js), fmt: &display.Formatter{}, stopping: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	if o.Config != nil {
		if s.fmt, err = display.New(o.Config); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	s.hub = newHub(o.Machines, s.fmt, s.clk.Now)
	s.sessions = &sessions{clk: s.clk, m: map[string]*session{}}
	s.limiter = identity.NewLimiter(s.clk.Now, 2)
	s.static, _ = fs.Sub(staticFS, "static")
	if _, err := s.currentUsers(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(o.UsersFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.log.Warn("console: users file is readable by other users; chmod 600 it", "file", o.UsersFile, "mode", fi.Mode().Perm().String())
	}
	return s, nil
}

// currentUsers returns the users file as it is now and ends the sessions
// of users no longer in it.
func (s *Server) currentUsers() (identity.Users, error) {
	u, err := s.dir.Current()
	if err != nil {
		return nil, err
	}
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	for name := range s.usersSeen {
		if _, ok := u[name]; !ok {
			s.sessions.deleteUser(name)
		}
	}
	s.usersSeen = u
	return u, nil
}

// startFeed starts the NATS watchers once; they stop when ctx ends.
func (s *Server) startFeed(ctx context.Context) {
	s.feedOnce.Do(func() {
		s.feedWG.Go(func() { s.watchAlarms(ctx) })
		s.feedWG.Go(func() { s.watchTransitions(ctx) })
	})
}

// Run listens on listen (host:port) and serves until ctx is cancelled,
// with TLS when tlsCfg is not nil.
func (s *Server) Run(ctx context.Context, listen string, tlsCfg *tls.Config) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("console: listen on %s: %w", listen, err)
	}
	return s.Serve(ctx, ln, tlsCfg)
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully
// within 5 s: SSE streams are ended, in-flight commands get to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer func() {
		stopFeed()
		s.feedWG.Wait()
	}()
	s.startFeed(feedCtx)
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if tlsCfg != nil {
		tc := tlsCfg.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
		ln = tls.NewListener(ln, tc)
		srv.TLSConfig = tc
	}
	s.log.Info("console listening", "addr", ln.Addr().String(), "tls", tlsCfg != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("console: serve: %w", err)
	case <-ctx.Done():
	}
	s.stopOnce.Do(func() { close(s.stopping) })
	s.hub.closeAll()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A connection that never sent a request (a browser's speculative
		// preconnect) counts as busy for 5 s in net/http: past the grace
		// period, cut what is left rather than fail the shutdown.
		s.log.Warn("console: connections still open after the shutdown grace period; closing them")
		err = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("console: shutdown: %w", err)
	}
	return nil
}

// Handler is the console's HTTP handler. The NATS feeds run only while
// Run or Serve runs, or after StartFeed.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveIndex)
	files := http.StripPrefix("/static/", http.FileServerFS(s.static))
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /api/login", s.handleLogin)
	mux.HandleFunc("POST /api/logout", s.auth(true, s.handleLogout))
	mux.HandleFunc("GET /api/me", s.auth(false, s.handleMe))
	mux.HandleFunc("GET /api/alarms", s.auth(false, s.handleAlarms))
	mux.HandleFunc("GET /api/events", s.auth(false, s.handleEvents))
	mux.HandleFunc("GET /api/history", s.auth(false, s.handleHistory))
	mux.HandleFunc("GET /api/trend", s.auth(false, s.handleTrend))
	mux.HandleFunc("POST /api/alarms/{verb}", s.auth(true, s.handleCommand))
	return securityHeaders(mux)
}

// StartFeed starts the NATS feeds for a Handler used without Run/Serve;
// they stop when ctx is cancelled (wait for them with Wait).
func (s *Server) StartFeed(ctx context.Context) { s.startFeed(ctx) }

// Wait waits for the feeds started by StartFeed to stop.
func (s *Server) Wait() { s.feedWG.Wait() }

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}
