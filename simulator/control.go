package simulator

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// control is the HTTP control endpoint (see docs/simulator.md).
type control struct {
	srv  *http.Server
	url  string
	done chan struct{}
}

// FaultRequest is the body of POST /faults: a Fault, optionally scheduled
// After a simulated delay instead of at an absolute At.
type FaultRequest struct {
	Fault
	After Duration `json:"after,omitempty"`
}

// TimeInfo is the body of GET /time.
type TimeInfo struct {
	Now   time.Time `json:"now"`
	Start time.Time `json:"start"`
	Speed float64   `json:"speed"`
}

func startControl(s *Simulator, listen, token string) (*control, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("control listen address %q: want host:port: %w", listen, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && token == "" {
		return nil, fmt.Errorf("control endpoint %q is not on loopback: set a bearer token (ControlToken) or listen on 127.0.0.1", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("control endpoint: %w", err)
	}
	c := &control{url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	c.srv = &http.Server{Handler: controlHandler(s, token), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(c.done)
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("control endpoint stopped", "err", err)
		}
	}()
	return c, nil
}

func (c *control) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		_ = c.srv.Close()
	}
	<-c.done
}

func controlHandler(s *Simulator, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.FaultLog())
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var req FaultRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("bad fault JSON: %w", err))
			return
		}
		f := req.Fault
		f.ID = ""
		if req.After > 0 {
			if !f.At.IsZero() {
				writeErr(w, http.StatusBadRequest, errors.New("give either at or after, not both"))
				return
			}
			f.At = s.Now().Add(time.Duration(req.After))
		}
		rec, err := s.InjectFault(f)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, rec)
	})
	mux.HandleFunc("DELETE /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, err := s.ClearFault(r.PathValue("id"))
		if err != nil {
			writeErr(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, http.StatusOK, rec)
	})
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		var d time.Duration
		if v := r.URL.Query().Get("downtime"); v != "" {
			var err error
			if d, err = time.ParseDuration(v); err != nil || d < 0 {
				writeErr(w, http.StatusBadRequest, fmt.Errorf("bad downtime %q: use e.g. 5s", v))
				return
			}
		}
		if err := s.Restart(r.Context(), d); err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "restarted", "downtime": d.String()})
	})
	mux.HandleFunc("POST /drop", func(w http.ResponseWriter, r *http.Request) {
		s.DropConnections()
		writeJSON(w, http.StatusOK, map[string]string{"status": "dropped"})
	})
	mux.HandleFunc("GET /time", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, TimeInfo{Now: s.Now(), Start: s.opts.Start, Speed: s.opts.Speed})
	})
	mux.HandleFunc("POST /advance", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("by"))
		if err != nil || d <= 0 {
			writeErr(w, http.StatusBadRequest, errors.New("give ?by=DURATION, e.g. ?by=1h"))
			return
		}
		s.Advance(d)
		writeJSON(w, http.StatusOK, TimeInfo{Now: s.Now(), Start: s.opts.Start, Speed: s.opts.Speed})
	})
	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(strings.TrimSpace(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="linewatch-simulator"`)
			writeErr(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
