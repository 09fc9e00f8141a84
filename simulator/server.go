package simulator

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"
)

// opcServer is one incarnation of the OPC UA server. A restart builds a new
// one on the same port with the same certificate and the same plant state;
// sessions and subscriptions do not survive, as on real equipment.
type opcServer struct {
	srv    *server.Server
	cancel context.CancelFunc
	plant  *plantNS
	auth   *authenticator
	log    *slog.Logger
	maxRd  int

	mu        sync.Mutex
	activated map[string]sessionInfo // session auth token -> who, and on which channel
	lastSent  map[uint32]string      // monitored item -> fingerprint of the last value sent
}

type serverConfig struct {
	host    string
	port    int
	cert    []byte
	key     *rsa.PrivateKey
	users   map[string]string
	anon    bool
	maxRead int
	engine  *engine
	log     *slog.Logger
	trusted map[[32]byte]bool
}

func startServer(cfg serverConfig) (*opcServer, error) {
	opts := []server.Option{
		server.EndPoint(cfg.host, cfg.port),
		server.Certificate(cfg.cert),
		server.PrivateKey(cfg.key),
		server.ServerName("linewatch plant simulator"),
		server.ManufacturerName("linewatch"),
		server.ProductName("linewatch simulate"),
		server.SetLogger(gopcuaLogger{cfg.log}),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSign),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
	}
	if cfg.anon {
		opts = append(opts, server.EnableAuthMode(ua.UserTokenTypeAnonymous))
	}
	if len(cfg.users) > 0 {
		opts = append(opts, server.EnableAuthMode(ua.UserTokenTypeUserName))
	}
	srv := server.New(opts...)
	if err := checkInternals(srv); err != nil {
		return nil, err
	}
	sessions, err := newSessionService(srv)
	if err != nil {
		return nil, err
	}
	o := &opcServer{
		srv: srv, auth: newAuthenticator(cfg.users, cfg.anon, cfg.key), log: cfg.log, maxRd: cfg.maxRead,
		activated: map[string]sessionInfo{}, lastSent: map[uint32]string{},
	}
	// Namespace 1 is the server's own; the plant is namespace 2.
	server.NewNodeNameSpace(srv, ApplicationURI)
	o.plant = newPlantNS(cfg.engine)
	if idx := srv.AddNamespace(o.plant); idx != 2 {
		return nil, fmt.Errorf("plant namespace got index %d, want 2", idx)
	}
	ns0, _ := srv.Namespace(0)
	objects := ns0.Objects()
	for _, r := range o.plant.roots {
		objects.AddRef(o.plant.Node(o.plant.nodeID(r.id)), server.RefTypeIDOrganizes, true)
	}
	limit := uint32(o.maxRd)
	ns0.AddNode(server.NewNode(
		ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead),
		server.Attributes{
			ua.AttributeIDBrowseName: server.DataValueFromValue(attrs.BrowseName("MaxNodesPerRead")),
			ua.AttributeIDNodeClass:  server.DataValueFromValue(uint32(ua.NodeClassVariable)),
		}, nil,
		func() *ua.DataValue { return server.DataValueFromValue(limit) },
	))
	o.registerHandlers(sessions)
	if len(cfg.trusted) > 0 {
		srv.RegisterHandler(id.CreateSessionRequest_Encoding_DefaultBinary, trustGate(cfg.trusted, sessions, cfg.log))
	}

	ctx, cancel := context.WithCancel(context.Background()) //nolint:gocritic // owned by opcServer, cancelled in close
	o.cancel = cancel
	if err := srv.Start(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("start OPC UA server on %s:%d: %w", cfg.host, cfg.port, err)
	}
	return o, nil
}

func (o *opcServer) registerHandlers(sessions *server.SessionService) {
	s := o.srv
	s.RegisterHandler(id.ActivateSessionRequest_Encoding_DefaultBinary, o.activateSession(sessions))
	s.RegisterHandler(id.CloseSessionRequest_Encoding_DefaultBinary, func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		o.mu.Lock()
		delete(o.activated, r.Header().AuthenticationToken.String())
		o.mu.Unlock()
		return sessions.CloseSession(sc, r, reqID)
	})
	s.RegisterHandler(id.ReadRequest_Encoding_DefaultBinary, o.gate(o.read))
	s.RegisterHandler(id.WriteRequest_Encoding_DefaultBinary, o.gate(o.write))
	s.RegisterHandler(id.BrowseRequest_Encoding_DefaultBinary, o.gate(o.browse))
	s.RegisterHandler(id.RegisterNodesRequest_Encoding_DefaultBinary, o.gate(o.registerNodes))
	s.RegisterHandler(id.UnregisterNodesRequest_Encoding_DefaultBinary, o.gate(o.unregisterNodes))
	for _, t := range []uint16{
		id.BrowseNextRequest_Encoding_DefaultBinary, id.TranslateBrowsePathsToNodeIDsRequest_Encoding_DefaultBinary,
		id.HistoryReadRequest_Encoding_DefaultBinary, id.HistoryUpdateRequest_Encoding_DefaultBinary,
		id.CallRequest_Encoding_DefaultBinary, id.QueryFirstRequest_Encoding_DefaultBinary, id.QueryNextRequest_Encoding_DefaultBinary,
		id.AddNodesRequest_Encoding_DefaultBinary, id.AddReferencesRequest_Encoding_DefaultBinary,
		id.DeleteNodesRequest_Encoding_DefaultBinary, id.DeleteReferencesRequest_Encoding_DefaultBinary,
		id.ModifyMonitoredItemsRequest_Encoding_DefaultBinary, id.SetTriggeringRequest_Encoding_DefaultBinary,
		id.TransferSubscriptionsRequest_Encoding_DefaultBinary, id.RepublishRequest_Encoding_DefaultBinary,
	} {
		s.RegisterHandler(t, o.gate(unsupported))
	}
	// Subscription services are gopcua's own (created inside Start), behind the session gate.
	sub := func(f func(*server.SubscriptionService) server.Handler) server.Handler {
		return o.gate(func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
			return f(s.SubscriptionService)(sc, r, reqID)
		})
	}
	mon := func(f func(*server.MonitoredItemService) server.Handler) server.Handler {
		return o.gate(func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
			return f(s.MonitoredItemService)(sc, r, reqID)
		})
	}
	s.RegisterHandler(id.CreateSubscriptionRequest_Encoding_DefaultBinary, sub(func(x *server.SubscriptionService) server.Handler { return x.CreateSubscription }))
	s.RegisterHandler(id.ModifySubscriptionRequest_Encoding_DefaultBinary, sub(func(x *server.SubscriptionService) server.Handler { return x.ModifySubscription }))
	s.RegisterHandler(id.SetPublishingModeRequest_Encoding_DefaultBinary, sub(func(x *server.SubscriptionService) server.Handler { return x.SetPublishingMode }))
	s.RegisterHandler(id.PublishRequest_Encoding_DefaultBinary, sub(func(x *server.SubscriptionService) server.Handler { return x.Publish }))
	s.RegisterHandler(id.DeleteSubscriptionsRequest_Encoding_DefaultBinary, sub(func(x *server.SubscriptionService) server.Handler { return x.DeleteSubscriptions }))
	s.RegisterHandler(id.CreateMonitoredItemsRequest_Encoding_DefaultBinary, mon(func(x *server.MonitoredItemService) server.Handler { return x.CreateMonitoredItems }))
	s.RegisterHandler(id.SetMonitoringModeRequest_Encoding_DefaultBinary, mon(func(x *server.MonitoredItemService) server.Handler { return x.SetMonitoringMode }))
	s.RegisterHandler(id.DeleteMonitoredItemsRequest_Encoding_DefaultBinary, mon(func(x *server.MonitoredItemService) server.Handler { return x.DeleteMonitoredItems }))
}

// activateSession checks the user identity token before letting gopcua
// activate the session; wrong credentials get BadUserAccessDenied.
func (o *opcServer) activateSession(sessions *server.SessionService) server.Handler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		req, ok := r.(*ua.ActivateSessionRequest)
		if !ok {
			return nil, ua.StatusBadRequestTypeInvalid
		}
		nonce, ok := sessionNonce(o.srv, req.RequestHeader)
		if !ok {
			return nil, ua.StatusBadSessionIDInvalid
		}
		token := req.RequestHeader.AuthenticationToken.String()
		o.mu.Lock()
		prev, known := o.activated[token]
		if known && prev.sc != sc {
			delete(o.activated, token)
		}
		o.mu.Unlock()
		if known && prev.sc != sc {
			// gopcua binds a subscription to the channel it was created on and
			// cannot move it, so a session does not survive its channel: the
			// client must create a new session and new subscriptions.
			o.dropSubscriptions(token)
			o.log.Info("OPC UA session not restored on a new channel", "user", prev.user, "remote", sc.RemoteAddr().String())
			return nil, ua.StatusBadSessionIDInvalid
		}
		user, code := o.auth.check(req.UserIdentityToken, nonce)
		if code != ua.StatusOK {
			o.log.Warn("OPC UA session refused", "user", user, "remote", sc.RemoteAddr().String(), "status", code.Error())
			return nil, code
		}
		resp, err := sessions.ActivateSession(sc, r, reqID)
		if err != nil {
			return resp, err
		}
		o.mu.Lock()
		o.activated[token] = sessionInfo{user: user, sc: sc}
		o.mu.Unlock()
		o.log.Debug("OPC UA session activated", "user", user, "remote", sc.RemoteAddr().String())
		return resp, nil
	}
}

// trustGate refuses sessions whose client certificate is not on the trust
// list. The certificate's key must also sign the session nonce (checked by
// gopcua in ActivateSession), so presenting a trusted certificate without
// its key gets nowhere either.
func trustGate(trusted map[[32]byte]bool, sessions *server.SessionService, log *slog.Logger) server.Handler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		req, ok := r.(*ua.CreateSessionRequest)
		if !ok {
			return nil, ua.StatusBadRequestTypeInvalid
		}
		if len(req.ClientCertificate) > 0 && !trusted[sha256.Sum256(req.ClientCertificate)] {
			log.Warn("OPC UA session refused: client certificate not trusted", "remote", sc.RemoteAddr().String())
			return nil, ua.StatusBadCertificateUntrusted
		}
		return sessions.CreateSession(sc, r, reqID)
	}
}

type sessionInfo struct {
	user string
	sc   *uasc.SecureChannel
}

// dropSubscriptions deletes the server-side subscriptions of a session.
func (o *opcServer) dropSubscriptions(token string) {
	ss := o.srv.SubscriptionService
	if ss == nil {
		return
	}
	var ids []uint32
	ss.Mu.Lock()
	for id, sub := range ss.Subs {
		if sub != nil && sub.Session != nil && sub.Session.AuthTokenID.String() == token {
			ids = append(ids, id)
		}
	}
	ss.Mu.Unlock()
	for _, id := range ids {
		ss.DeleteSubscription(id)
	}
}

// gate refuses every service on a session that was not activated with
// valid credentials (gopcua would otherwise serve it, or panic on a nil session).
func (o *opcServer) gate(h server.Handler) server.Handler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		hdr := r.Header()
		if hdr == nil || hdr.AuthenticationToken == nil {
			return nil, ua.StatusBadSessionIDInvalid
		}
		o.mu.Lock()
		info, ok := o.activated[hdr.AuthenticationToken.String()]
		o.mu.Unlock()
		if !ok {
			return nil, ua.StatusBadSessionNotActivated
		}
		if info.sc != sc {
			// A session is usable only on the channel that activated it, so a
			// guessed or leaked authentication token is useless elsewhere.
			return nil, ua.StatusBadSecureChannelIDInvalid
		}
		return h(sc, r, reqID)
	}
}

func header(h *ua.RequestHeader, code ua.StatusCode) *ua.ResponseHeader {
	return &ua.ResponseHeader{
		Timestamp: time.Now(), RequestHandle: h.RequestHandle, ServiceResult: code,
		ServiceDiagnostics: &ua.DiagnosticInfo{}, StringTable: []string{}, AdditionalHeader: ua.NewExtensionObject(nil),
	}
}

func unsupported(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	return nil, ua.StatusBadServiceUnsupported
}

func (o *opcServer) read(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.ReadRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if len(req.NodesToRead) == 0 {
		return nil, ua.StatusBadNothingToDo
	}
	if o.maxRd > 0 && len(req.NodesToRead) > o.maxRd {
		return nil, ua.StatusBadTooManyOperations
	}
	results := make([]*ua.DataValue, len(req.NodesToRead))
	for i, n := range req.NodesToRead {
		if n == nil || n.NodeID == nil {
			results[i] = statusValue(ua.StatusBadNodeIDInvalid, time.Now())
			continue
		}
		ns, err := o.srv.Namespace(int(n.NodeID.Namespace()))
		if err != nil {
			results[i] = statusValue(ua.StatusBadNodeIDUnknown, time.Now())
			continue
		}
		results[i] = ns.Attribute(n.NodeID, n.AttributeID)
	}
	return &ua.ReadResponse{ResponseHeader: header(req.RequestHeader, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// write refuses every write: the plant's values come from its physics.
func (o *opcServer) write(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.WriteRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	res := make([]ua.StatusCode, len(req.NodesToWrite))
	for i := range res {
		res[i] = ua.StatusBadNotWritable
	}
	return &ua.WriteResponse{ResponseHeader: header(req.RequestHeader, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

func (o *opcServer) browse(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.BrowseRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	res := make([]*ua.BrowseResult, len(req.NodesToBrowse))
	for i, bd := range req.NodesToBrowse {
		if bd == nil || bd.NodeID == nil {
			res[i] = &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDInvalid}
			continue
		}
		ns, err := o.srv.Namespace(int(bd.NodeID.Namespace()))
		if err != nil {
			res[i] = &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
			continue
		}
		res[i] = ns.Browse(bd)
	}
	return &ua.BrowseResponse{ResponseHeader: header(req.RequestHeader, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

func (o *opcServer) registerNodes(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.RegisterNodesRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	return &ua.RegisterNodesResponse{ResponseHeader: header(req.RequestHeader, ua.StatusOK), RegisteredNodeIDs: req.NodesToRegister}, nil
}

func (o *opcServer) unregisterNodes(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
	req, ok := r.(*ua.UnregisterNodesRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	return &ua.UnregisterNodesResponse{ResponseHeader: header(req.RequestHeader, ua.StatusOK)}, nil
}

// notify pushes changed values of monitored plant nodes to their
// subscriptions. It replaces gopcua's ChangeNotification, whose blocking
// send can deadlock against a subscription that has just shut down.
func (o *opcServer) notify() {
	mis := o.srv.MonitoredItemService
	if mis == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	mis.Mu.Lock()
	defer mis.Mu.Unlock()
	live := map[uint32]bool{}
	for _, items := range mis.Nodes {
		for _, it := range items {
			if it == nil || it.Req == nil || it.Req.ItemToMonitor == nil || it.Sub == nil {
				continue
			}
			nid := it.Req.ItemToMonitor.NodeID
			if nid == nil || nid.Namespace() != o.plant.ns {
				continue
			}
			live[it.ID] = true
			dv := o.plant.Attribute(nid, it.Req.ItemToMonitor.AttributeID)
			fp := fingerprint(dv)
			if o.lastSent[it.ID] == fp {
				continue
			}
			n := &ua.MonitoredItemNotification{ClientHandle: it.Req.RequestedParameters.ClientHandle, Value: dv}
			select {
			case it.Sub.NotifyChannel <- n:
				o.lastSent[it.ID] = fp
			default: // subscription not draining: try again next step
			}
		}
	}
	maps.DeleteFunc(o.lastSent, func(k uint32, _ string) bool { return !live[k] })
}

func fingerprint(dv *ua.DataValue) string {
	var v any
	if dv.Value != nil {
		v = dv.Value.Value()
	}
	return fmt.Sprintf("%v|%d|%d", v, dv.Status, dv.SourceTimestamp.UnixNano())
}

// dropConnections closes every client socket; the server keeps running.
func (o *opcServer) dropConnections() int {
	conns, err := channelSockets(o.srv)
	if err != nil {
		o.log.Error("drop connections", "err", err)
		return 0
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return len(conns)
}

// close stops the server: sockets, listener, handler loops, subscriptions.
func (o *opcServer) close() {
	o.dropConnections()
	_ = o.srv.Close()
	o.cancel()
	// gopcua registers an accepted connection in a goroutine of its own, so
	// one accepted just before the listener closed can be registered after
	// Close closed the channels, and would live on unserved: a client then
	// sees a connection that never answers instead of a restart. Sweep until
	// nothing is left (real time: this waits on those registrations).
	closed := map[*uacp.Conn]bool{}
	for quiet := 0; quiet < 3; quiet++ {
		conns, err := channelSockets(o.srv)
		if err != nil {
			o.log.Error("close: sweep connections", "err", err)
			break
		}
		for _, c := range conns {
			if !closed[c] {
				closed[c], quiet = true, -1
				_ = c.Close()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ss := o.srv.SubscriptionService; ss != nil {
		ss.Mu.Lock()
		ids := slices.Collect(maps.Keys(ss.Subs))
		ss.Mu.Unlock()
		for _, id := range ids {
			ss.DeleteSubscription(id)
		}
	}
}

// gopcuaLogger adapts slog to gopcua's printf-style logger. gopcua logs
// routine events (closed sockets) as errors, so everything goes to Debug.
type gopcuaLogger struct{ l *slog.Logger }

func (g gopcuaLogger) log(msg string, args []any) {
	if g.l.Enabled(context.Background(), slog.LevelDebug) {
		g.l.Debug("gopcua: " + fmt.Sprintf(msg, args...))
	}
}

func (g gopcuaLogger) Debug(msg string, args ...any) { g.log(msg, args) }
func (g gopcuaLogger) Info(msg string, args ...any)  { g.log(msg, args) }
func (g gopcuaLogger) Warn(msg string, args ...any)  { g.log(msg, args) }
func (g gopcuaLogger) Error(msg string, args ...any) { g.log(msg, args) }
