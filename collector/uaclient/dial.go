package uaclient

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/linewatch/linewatch/collector/pki"
)

// Config is everything needed to open one session.
type Config struct {
	Endpoint string // opc.tcp://host:port[/path]
	Policy   string // None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss
	Mode     string // None, Sign, SignAndEncrypt

	// Application instance certificate (DER) and key; required for secured endpoints.
	Certificate []byte
	PrivateKey  *rsa.PrivateKey
	AppURI      string

	TrustDir string     // trusted server certificates
	PKI      *pki.Store // where refused certificates are saved (rejected/)

	Auth           Auth
	RequestTimeout time.Duration
	SessionName    string
	Now            func() time.Time
}

// Auth is the user identity.
type Auth struct {
	Type        string // anonymous, username, certificate
	Username    string
	Password    string
	Certificate []byte
	PrivateKey  *rsa.PrivateKey
}

// Limits are the server's operation limits (0 = no limit given).
type Limits struct {
	MaxNodesPerRead          int
	MaxMonitoredItemsPerCall int
}

// Well-known node ids (namespace 0).
const (
	idMaxNodesPerRead          = 11705
	idMaxMonitoredItemsPerCall = 11714
)

func tokenType(auth string) (ua.UserTokenType, error) {
	switch auth {
	case "", "anonymous":
		return ua.UserTokenTypeAnonymous, nil
	case "username":
		return ua.UserTokenTypeUserName, nil
	case "certificate":
		return ua.UserTokenTypeCertificate, nil
	}
	return 0, fmt.Errorf("auth type %q: expected anonymous, username or certificate", auth)
}

func modeOf(s string) (ua.MessageSecurityMode, error) {
	switch s {
	case "", "None":
		return ua.MessageSecurityModeNone, nil
	case "Sign":
		return ua.MessageSecurityModeSign, nil
	case "SignAndEncrypt":
		return ua.MessageSecurityModeSignAndEncrypt, nil
	}
	return 0, fmt.Errorf("security mode %q: expected None, Sign or SignAndEncrypt", s)
}

func modeName(m ua.MessageSecurityMode) string {
	return strings.TrimPrefix(m.String(), "MessageSecurityMode")
}

func policyName(uri string) string {
	if i := strings.LastIndexByte(uri, '#'); i >= 0 {
		return uri[i+1:]
	}
	return uri
}

// SelectEndpoint picks the endpoint with exactly the configured policy and
// mode and checks it offers the user token type; the error lists what the
// server offers so the config can be fixed in one go.
func SelectEndpoint(eps []*ua.EndpointDescription, endpoint, policy, mode, auth string) (*ua.EndpointDescription, error) {
	if policy == "" {
		policy = "None"
	}
	m, err := modeOf(mode)
	if err != nil {
		return nil, err
	}
	tt, err := tokenType(auth)
	if err != nil {
		return nil, err
	}
	uri := ua.FormatSecurityPolicyURI(policy)
	var offered []string
	for _, ep := range eps {
		offered = append(offered, policyName(ep.SecurityPolicyURI)+"/"+modeName(ep.SecurityMode))
		if ep.SecurityPolicyURI != uri || ep.SecurityMode != m {
			continue
		}
		var tokens []string
		for _, t := range ep.UserIdentityTokens {
			if t.TokenType == tt {
				return ep, nil
			}
			tokens = append(tokens, strings.TrimPrefix(t.TokenType.String(), "UserTokenType"))
		}
		return nil, fmt.Errorf("OPC UA server %s: endpoint %s/%s does not accept %s authentication (it accepts %s); change auth.type",
			endpoint, policy, modeName(m), strings.TrimPrefix(tt.String(), "UserTokenType"), strings.Join(tokens, ", "))
	}
	return nil, fmt.Errorf("OPC UA server %s offers no endpoint with security_policy %s and security_mode %s; it offers %s",
		endpoint, policy, modeName(m), strings.Join(offered, ", "))
}

// Dial discovers the endpoints, checks the server certificate against the
// trust list and opens an activated session. onState receives gopcua's
// connection state changes (Disconnected when the secure channel breaks).
func Dial(ctx context.Context, cfg Config, onState func(opcua.ConnState)) (*opcua.Client, Limits, error) {
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	eps, err := opcua.GetEndpoints(dctx, cfg.Endpoint, opcua.DialTimeout(timeout), opcua.RequestTimeout(timeout))
	if err != nil {
		return nil, Limits{}, fmt.Errorf("OPC UA server %s: get endpoints: %w", cfg.Endpoint, err)
	}
	ep, err := SelectEndpoint(eps, cfg.Endpoint, cfg.Policy, cfg.Mode, cfg.Auth.Type)
	if err != nil {
		return nil, Limits{}, err
	}
	tt, _ := tokenType(cfg.Auth.Type)
	secured := ep.SecurityMode != ua.MessageSecurityModeNone
	// A password is encrypted with the server certificate even on a None
	// channel, so that certificate must be trusted before it is sent.
	if secured || tt == ua.UserTokenTypeUserName {
		if cfg.PKI == nil {
			return nil, Limits{}, errors.New("secured endpoint needs a PKI store")
		}
		now := time.Now
		if cfg.Now != nil {
			now = cfg.Now
		}
		if err := cfg.PKI.CheckServer(cfg.Endpoint, cfg.TrustDir, ep.ServerCertificate, now()); err != nil {
			return nil, Limits{}, err
		}
		if secured && (len(cfg.Certificate) == 0 || cfg.PrivateKey == nil) {
			return nil, Limits{}, errors.New("secured endpoint needs the application instance certificate and key")
		}
	}
	if tt == ua.UserTokenTypeUserName && !secured && !tokenEncrypted(ep, tt) {
		return nil, Limits{}, fmt.Errorf("OPC UA server %s: endpoint None/None would send the password of user %q in clear text; "+
			"use security_policy Basic256Sha256 with security_mode SignAndEncrypt", cfg.Endpoint, cfg.Auth.Username)
	}

	name := cfg.SessionName
	if name == "" {
		name = "linewatch"
	}
	opts := []opcua.Option{
		opcua.AutoReconnect(false),
		opcua.ApplicationName("linewatch collector"),
		opcua.ProductURI("urn:linewatch"),
		opcua.SessionName(name),
		opcua.SessionTimeout(10 * time.Minute),
		opcua.RequestTimeout(timeout),
		opcua.DialTimeout(timeout),
	}
	if len(cfg.Certificate) > 0 && cfg.PrivateKey != nil {
		opts = append(opts, opcua.Certificate(cfg.Certificate), opcua.PrivateKey(cfg.PrivateKey))
	}
	if cfg.AppURI != "" {
		opts = append(opts, opcua.ApplicationURI(cfg.AppURI))
	}
	switch tt {
	case ua.UserTokenTypeUserName:
		opts = append(opts, opcua.AuthUsername(cfg.Auth.Username, cfg.Auth.Password))
	case ua.UserTokenTypeCertificate:
		opts = append(opts, opcua.AuthCertificate(cfg.Auth.Certificate), opcua.AuthPrivateKey(cfg.Auth.PrivateKey))
	default:
		opts = append(opts, opcua.AuthAnonymous())
	}
	opts = append(opts, opcua.SecurityFromEndpoint(ep, tt))
	if onState != nil {
		opts = append(opts, opcua.StateChangedFunc(onState))
	}
	cl, err := opcua.NewClient(cfg.Endpoint, opts...)
	if err != nil {
		return nil, Limits{}, fmt.Errorf("OPC UA client for %s: %w", cfg.Endpoint, err)
	}
	if err := connect(dctx, cl); err != nil {
		cl.Close(context.WithoutCancel(ctx))
		return nil, Limits{}, describeConnectError(cfg, err)
	}
	lim, err := ReadLimits(dctx, cl)
	if err != nil {
		cl.Close(context.WithoutCancel(ctx))
		return nil, Limits{}, fmt.Errorf("OPC UA server %s: read operation limits: %w", cfg.Endpoint, err)
	}
	return cl, lim, nil
}

// connect guards against gopcua panicking on a nil session when the server's
// session signature does not verify.
func connect(ctx context.Context, cl *opcua.Client) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("session could not be established (server signature not verified?): %v", r)
		}
	}()
	return cl.Connect(ctx)
}

func tokenEncrypted(ep *ua.EndpointDescription, tt ua.UserTokenType) bool {
	for _, t := range ep.UserIdentityTokens {
		if t.TokenType == tt && t.SecurityPolicyURI != "" && t.SecurityPolicyURI != ua.SecurityPolicyURINone {
			return true
		}
	}
	return false
}

func describeConnectError(cfg Config, err error) error {
	var sc ua.StatusCode
	if errors.As(err, &sc) {
		switch sc {
		case ua.StatusBadUserAccessDenied, ua.StatusBadIdentityTokenRejected, ua.StatusBadIdentityTokenInvalid:
			who := cfg.Auth.Type
			if cfg.Auth.Username != "" {
				who = fmt.Sprintf("user %q", cfg.Auth.Username)
			}
			return fmt.Errorf("OPC UA server %s refused %s: check auth.username and the password it references: %w",
				cfg.Endpoint, who, err)
		case ua.StatusBadCertificateUntrusted, ua.StatusBadSecurityChecksFailed, ua.StatusBadCertificateInvalid:
			return fmt.Errorf("OPC UA server %s refused the collector's certificate: add it to the server's trusted clients (`linewatch pki init` prints its path and thumbprint): %w",
				cfg.Endpoint, err)
		}
	}
	return fmt.Errorf("OPC UA server %s: connect: %w", cfg.Endpoint, err)
}

// ReadLimits reads the server's MaxNodesPerRead and MaxMonitoredItemsPerCall.
// A server without the nodes yields zero limits, not an error.
func ReadLimits(ctx context.Context, cl *opcua.Client) (Limits, error) {
	res, err := cl.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{
		{NodeID: ua.NewNumericNodeID(0, idMaxNodesPerRead), AttributeID: ua.AttributeIDValue},
		{NodeID: ua.NewNumericNodeID(0, idMaxMonitoredItemsPerCall), AttributeID: ua.AttributeIDValue},
	}})
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	get := func(i int) int {
		if i >= len(res.Results) || res.Results[i].Status != ua.StatusOK || res.Results[i].Value == nil {
			return 0
		}
		switch v := res.Results[i].Value.Value().(type) {
		case uint32:
			return int(v)
		case int32:
			return int(v)
		case uint16:
			return int(v)
		}
		return 0
	}
	l.MaxNodesPerRead = get(0)
	l.MaxMonitoredItemsPerCall = get(1)
	return l, nil
}

// ReadChunked reads ids in chunks of at most chunk nodes (0 = one Read) and
// returns one DataValue per id in order, and the number of Read requests.
// ids should have AttributeID and DataEncoding set (NewReadValueID): then
// the request is sent as is, without gopcua's per-call copy of every id.
// A poll loop should build a ReadPlan once instead.
func ReadChunked(ctx context.Context, cl *opcua.Client, ids []*ua.ReadValueID, chunk int, dst []*ua.DataValue) ([]*ua.DataValue, int, error) {
	return NewReadPlan(ids, chunk).Read(ctx, cl, dst)
}

// ReadPlan is the chunked Read of a fixed node list, built once per session
// so that a poll does not rebuild (or copy) thousands of ReadValueIDs per
// tick. A plan is used by one goroutine at a time: gopcua sets the request
// header of each request when it is sent.
type ReadPlan struct {
	reqs     []*ua.ReadRequest
	enc      []*encodedRead // reqs with their bodies encoded once; nil if not prepared
	prepared bool           // every id has AttributeID and DataEncoding: send as is
	n        int
}

// NewReadPlan splits ids into Read requests of at most chunk nodes (0 = one).
// The plan keeps ids; do not change them while it is in use.
func NewReadPlan(ids []*ua.ReadValueID, chunk int) *ReadPlan {
	if chunk <= 0 || chunk > len(ids) {
		chunk = len(ids)
	}
	p := &ReadPlan{prepared: true, n: len(ids)}
	for _, id := range ids {
		if id.AttributeID == 0 || id.DataEncoding == nil {
			p.prepared = false
			break
		}
	}
	for start := 0; start < len(ids); start += chunk {
		end := min(start+chunk, len(ids))
		p.reqs = append(p.reqs, &ua.ReadRequest{NodesToRead: ids[start:end:end], TimestampsToReturn: ua.TimestampsToReturnBoth})
	}
	if p.prepared && encodedReadOK {
		for _, req := range p.reqs {
			e, err := newEncodedRead(req)
			if err != nil { // cannot happen for valid ids; the plain request is the fallback
				p.enc = nil
				break
			}
			p.enc = append(p.enc, e)
		}
	}
	return p
}

// Len is the number of nodes the plan reads.
func (p *ReadPlan) Len() int { return p.n }

// Read sends the plan's requests in order and appends one DataValue per id
// to dst. It returns the number of Read requests sent.
func (p *ReadPlan) Read(ctx context.Context, cl *opcua.Client, dst []*ua.DataValue) ([]*ua.DataValue, int, error) {
	calls := 0
	for i, req := range p.reqs {
		var res *ua.ReadResponse
		var err error
		if p.prepared {
			var send ua.Request = req
			if p.enc != nil {
				send = p.enc[i]
			}
			err = cl.Send(ctx, send, func(v ua.Response) error {
				r, ok := v.(*ua.ReadResponse)
				if !ok {
					return fmt.Errorf("read: unexpected response %T", v)
				}
				res = r
				return nil
			})
		} else {
			res, err = cl.Read(ctx, req)
		}
		calls++
		if err != nil {
			return dst, calls, err
		}
		if len(res.Results) != len(req.NodesToRead) {
			return dst, calls, fmt.Errorf("read returned %d results for %d nodes", len(res.Results), len(req.NodesToRead))
		}
		if p.prepared {
			markUndecodable(res.Results)
		}
		dst = append(dst, res.Results...)
	}
	return dst, calls, nil
}

// defaultEncoding is shared by every ReadValueID: requests only read it.
var defaultEncoding = &ua.QualifiedName{}

// NewReadValueID reads the Value attribute of id in the default encoding.
func NewReadValueID(id *ua.NodeID) *ua.ReadValueID {
	return &ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDValue, DataEncoding: defaultEncoding}
}

// markUndecodable does what gopcua's Read does: an extension object the
// client could not decode is reported as BadDataTypeIdUnknown, not as Good.
func markUndecodable(results []*ua.DataValue) {
	for _, dv := range results {
		if dv == nil || dv.Value == nil {
			continue
		}
		if eo, ok := dv.Value.Value().(*ua.ExtensionObject); ok && eo.Value == nil {
			dv.Status = ua.StatusBadDataTypeIDUnknown
		}
	}
}
