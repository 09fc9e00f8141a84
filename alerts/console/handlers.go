package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"

	"github.com/linewatch/linewatch/identity"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the JSON shape of every failure; Message is shown to the user.
type apiError struct {
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg})
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(s.static, "index.html")
	if err != nil {
		http.Error(w, "console page missing from the build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// sameOrigin rejects cross-site POSTs whose Origin (or Referer) is another
// host; SameSite=Strict and the CSRF token are the other two layers.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" || o == "null" {
		return o == "" // no header: a non-browser client
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.opts.SecureCookies }

// auth requires a session; mutating requests also need the CSRF token.
func (s *Server) auth(mutating bool, h func(http.ResponseWriter, *http.Request, session, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			fail(w, http.StatusUnauthorized, "login_required", "Please log in.")
			return
		}
		sess, ok := s.sessions.get(c.Value)
		if !ok {
			fail(w, http.StatusUnauthorized, "login_required", "Your session has ended; please log in again.")
			return
		}
		// The users file as it is now decides: a removed user's session
		// ends, a demoted user has the new role at once.
		u, ok, err := s.dir.Lookup(sess.user.Name)
		if err != nil {
			s.log.Error("console: users file", "err", err)
			fail(w, http.StatusInternalServerError, "internal_error", "The users file cannot be read; ask the administrator.")
			return
		}
		if !ok {
			s.sessions.delete(c.Value)
			fail(w, http.StatusUnauthorized, "login_required", "Your user is no longer in the users file; your session has ended.")
			return
		}
		sess.user = u
		// Any request of the session keeps its alarm-service token alive
		// (a round trip only in the last minutes before its expiry).
		_, _ = s.alarmRenew(r.Context(), sess.alarm)
		if mutating {
			if !sameOrigin(r) {
				fail(w, http.StatusForbidden, "cross_origin", "Request from another site refused.")
				return
			}
			if !csrfOK(sess.csrf, r.Header.Get("X-CSRF-Token")) {
				fail(w, http.StatusForbidden, "csrf", "Missing or wrong CSRF token; reload the page.")
				return
			}
		}
		h(w, r, sess, c.Value)
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type meResponse struct {
	User       string `json:"user"`
	Role       string `json:"role"`
	CSRF       string `json:"csrf"`
	CanCommand bool   `json:"can_command"`
	Site       string `json:"site,omitempty"`
	Zone       string `json:"zone"`
	// ShelveMaxMinutes: the longest shelve this role may set (0: unknown,
	// the console has no config; the alarm service checks it anyway).
	ShelveMaxMinutes int `json:"shelve_max_minutes,omitempty"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		fail(w, http.StatusForbidden, "cross_origin", "Request from another site refused.")
		return
	}
	var req loginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "invalid_request", "Send JSON {\"user\": …, \"password\": …}.")
		return
	}
	ip := clientIP(r)
	users, err := s.currentUsers()
	if err != nil {
		s.log.Error("console: users file", "err", err)
		fail(w, http.StatusInternalServerError, "internal_error", "The users file cannot be read; ask the administrator.")
		return
	}
	// Per user at this address, so nobody locks a user out from elsewhere;
	// per address over all user names; reserved before bcrypt runs.
	keys := []identity.LimitKey{{Name: "ua:" + req.User + "\x00" + ip, Free: 5}, {Name: "a:" + ip, Free: 30}}
	var u identity.User
	ok, wait, err := s.limiter.Attempt(r.Context(), keys, func() bool {
		var ok bool
		u, ok = users.Check(req.User, req.Password)
		return ok
	})
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "busy", "Login not checked (request ended); try again.")
		return
	}
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		fail(w, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf("Too many failed logins; try again in %d s.", secs))
		return
	}
	if !ok {
		s.log.Warn("console: failed login", "user", req.User, "ip", ip)
		fail(w, http.StatusUnauthorized, "bad_credentials", "Wrong user name or password.")
		return
	}
	cs := s.alarmLogin(r.Context(), req.User, req.Password, ip)
	token, sess := s.sessions.create(u, cs)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionMaxAge / time.Second),
	})
	s.log.Info("console: login", "user", u.Name, "role", u.Role, "ip", clientIP(r))
	writeJSON(w, http.StatusOK, s.me(*sess))
}

func (s *Server) me(sess session) meResponse {
	m := meResponse{User: sess.user.Name, Role: sess.user.Role, CSRF: sess.csrf, Site: s.opts.Site,
		CanCommand: canCommand(sess), Zone: s.fmt.ZoneLabel(s.clk.Now())}
	if s.opts.Config != nil {
		m.ShelveMaxMinutes = int(alerts.PolicyFrom(s.opts.Config.Alarms).ShelveLimit(sess.user.Role) / time.Minute)
	}
	return m
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, sess session, token string) {
	s.sessions.delete(token)
	s.alarmLogout(r.Context(), sess)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	s.log.Info("console: logout", "user", sess.user.Name)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) handleMe(w http.ResponseWriter, _ *http.Request, sess session, _ string) {
	writeJSON(w, http.StatusOK, s.me(sess))
}

// canCommand says whether the session may send commands at all: a role
// that may, and a token at the alarm service to send them with.
func canCommand(sess session) bool {
	return identity.CanCommand(sess.user.Role) && sess.alarm.loggedIn()
}

// pageSnapshot is a snapshot with the viewer's actions on every row.
type pageSnapshot struct {
	snapshot
	Rows []row `json:"rows"`
}

func viewSnapshot(snap snapshot, sess session) pageSnapshot {
	v := pageSnapshot{snapshot: snap, Rows: make([]row, 0, len(snap.Rows))}
	cc := canCommand(sess)
	for _, r := range snap.Rows {
		v.Rows = append(v.Rows, r.withActions(sess.user.Role, cc))
	}
	return v
}

// viewUpdate is an update with the viewer's actions on its row.
func viewUpdate(u update, sess session) any {
	if u.Row == nil {
		return u
	}
	r := u.Row.withActions(sess.user.Role, canCommand(sess))
	return struct {
		update
		Row *row `json:"row"`
	}{u, &r}
}

func (s *Server) handleAlarms(w http.ResponseWriter, _ *http.Request, sess session, _ string) {
	writeJSON(w, http.StatusOK, viewSnapshot(s.hub.snapshot(), sess))
}

// handleEvents streams the snapshot and then live updates as SSE.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, sess session, token string) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	snap, ch := s.hub.subscribe()
	defer s.hub.unsubscribe(ch)
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if !send("snapshot", viewSnapshot(snap, sess)) {
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopping:
			return
		case u, ok := <-ch:
			if !ok {
				return // too slow or shutting down: the browser reconnects
			}
			if !send("update", viewUpdate(u, sess)) {
				return
			}
		case <-heartbeat.C:
			cur, ok := s.sessions.get(token)
			var u identity.User
			if ok {
				u, ok, _ = s.dir.Lookup(cur.user.Name)
			}
			if !ok {
				s.sessions.delete(token)
				send("logout", map[string]string{"message": "Your session has ended; please log in again."})
				return
			}
			cur.user = u // a changed role changes the actions offered from now on
			sess = cur
			s.alarmRenew(r.Context(), sess.alarm) // keep the token alive while the page is open
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// commandRequest is what the page posts for a button press.
type commandRequest struct {
	Alarm    string `json:"alarm"`
	Reason   string `json:"reason"`
	Duration string `json:"duration"`
	Comment  string `json:"comment"`
}

var verbs = map[string]bool{"ack": true, "shelve": true, "unshelve": true, "reset": true, "comment": true}

func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request, sess session, _ string) {
	verb := r.PathValue("verb")
	if !verbs[verb] {
		fail(w, http.StatusNotFound, alerts.CodeInvalid, fmt.Sprintf("Unknown command %q.", verb))
		return
	}
	if !identity.CanCommand(sess.user.Role) {
		fail(w, http.StatusForbidden, alerts.CodeNotAuthorised, fmt.Sprintf("User %s has role %s, which may only view alarms.", sess.user.Name, sess.user.Role))
		return
	}
	var req commandRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8192)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, alerts.CodeInvalid, "Send JSON {\"alarm\": …}.")
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Alarm == "" {
		fail(w, http.StatusBadRequest, alerts.CodeInvalid, "No alarm given.")
		return
	}
	if verb == "shelve" {
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			fail(w, http.StatusBadRequest, alerts.CodeInvalid, fmt.Sprintf("Shelve duration %q is not a positive duration like 30m or 2h.", req.Duration))
			return
		}
		if req.Reason == "" {
			fail(w, http.StatusBadRequest, alerts.CodeReasonRequired, "A reason is required to shelve an alarm.")
			return
		}
	}
	cmd := alerts.Command{Alarm: req.Alarm, Reason: req.Reason, Duration: req.Duration, Comment: req.Comment}
	reply, status, err := s.request(r.Context(), verb, sess, cmd)
	if err != nil {
		s.log.Warn("console: command failed", "verb", verb, "alarm", req.Alarm, "user", sess.user.Name, "err", err)
		fail(w, status, alerts.CodeInternal, err.Error())
		return
	}
	s.log.Info("console: command", "verb", verb, "alarm", req.Alarm, "user", sess.user.Name, "ok", reply.OK, "code", reply.Code)
	status = http.StatusOK
	if !reply.OK {
		status = http.StatusConflict
	}
	writeJSON(w, status, reply)
}

// request sends a command to the alarm service with the session's token
// and decodes its Reply.
func (s *Server) request(ctx context.Context, verb string, sess session, cmd alerts.Command) (alerts.Reply, int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CommandTimeout)
	defer cancel()
	cs, err := s.alarmRenew(ctx, sess.alarm)
	if errors.Is(err, errNoAlarmLogin) {
		return alerts.Reply{}, http.StatusServiceUnavailable, err
	}
	if err != nil {
		return alerts.Reply{}, http.StatusUnauthorized, err
	}
	reply, err := cs.Send(ctx, s.opts.NATS, verb, cmd)
	switch {
	case errors.Is(err, alerts.ErrNoAlarmService):
		return alerts.Reply{}, http.StatusServiceUnavailable, fmt.Errorf("the alarm service is not running (nobody answers %s); nothing was changed", bus.CmdSubject(verb))
	case errors.Is(err, context.DeadlineExceeded):
		return alerts.Reply{}, http.StatusGatewayTimeout, fmt.Errorf("the alarm service did not answer within %s; check the alarm list before retrying", s.opts.CommandTimeout)
	case err != nil:
		return alerts.Reply{}, http.StatusBadGateway, fmt.Errorf("sending %s: %v", verb, err)
	}
	if reply.Code == "" {
		return alerts.Reply{}, http.StatusBadGateway, fmt.Errorf("the alarm service sent an unreadable reply to %s", verb)
	}
	return reply, 0, nil
}
