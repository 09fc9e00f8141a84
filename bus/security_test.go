package bus_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func quietLog(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

func connect(t *testing.T, cfg config.NATS, url string) (*nats.Conn, error) {
	t.Helper()
	nc, err := bus.Connect(t.Context(), cfg, url, "security-test", quietLog(t))
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// permissionDenied publishes on subj and reports whether the server refused it.
func permissionDenied(t *testing.T, nc *nats.Conn, subj string) bool {
	t.Helper()
	if err := nc.Publish(subj, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// The server answers -ERR before the PONG that ends Flush.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	err := nc.LastError()
	return err != nil && strings.Contains(err.Error(), "Permissions Violation") && strings.Contains(err.Error(), subj)
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUserPasswordWithRolePermissions mirrors the per-role permissions of
// docs/nats-security.md (collector, operator) with user/password auth.
func TestUserPasswordWithRolePermissions(t *testing.T) {
	s := testenv.NATS(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "collector", Password: "collector-pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"linewatch.telemetry.>", "linewatch.batches.>", "$JS.API.STREAM.INFO.TELEMETRY"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			}},
			{Username: "operator", Password: "operator-pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"linewatch.cmd.alarms.>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>", "linewatch.alarms.>"}},
			}},
		}
	})
	t.Setenv("LW_NATS_COLLECTOR_PW", "collector-pw")
	pwFile := writeFile(t, "operator-pw", []byte("operator-pw\n"))

	col, err := connect(t, config.NATS{User: "collector", PasswordEnv: "LW_NATS_COLLECTOR_PW"}, s.ClientURL())
	if err != nil {
		t.Fatalf("collector with the right password: %v", err)
	}
	if permissionDenied(t, col, "linewatch.telemetry.plant1.L1.filler") {
		t.Error("collector may not publish telemetry")
	}
	if !permissionDenied(t, col, "linewatch.alarms.plant1.L1.urgent") {
		t.Error("collector could publish a forged alarm")
	}

	op, err := connect(t, config.NATS{User: "operator", PasswordFile: pwFile}, s.ClientURL())
	if err != nil {
		t.Fatalf("operator with the password from a file: %v", err)
	}
	if !permissionDenied(t, op, "linewatch.telemetry.plant1.L1.filler") {
		t.Error("operator could publish telemetry")
	}
	if _, err := op.Subscribe("linewatch.telemetry.>", func(*nats.Msg) {}); err == nil {
		if err := op.Flush(); err == nil && (op.LastError() == nil || !strings.Contains(op.LastError().Error(), "Permissions Violation for Subscription")) {
			t.Errorf("operator could subscribe to telemetry: %v", op.LastError())
		}
	}

	t.Setenv("LW_NATS_BAD_PW", "guess")
	_, err = connect(t, config.NATS{User: "collector", PasswordEnv: "LW_NATS_BAD_PW"}, s.ClientURL())
	if err == nil || !strings.Contains(err.Error(), "Authorization Violation") || !strings.Contains(err.Error(), s.ClientURL()) {
		t.Errorf("wrong password: err = %v, want an authorization violation naming the server", err)
	}
	_, err = connect(t, config.NATS{User: "collector", PasswordEnv: "LW_NATS_UNSET_PW"}, s.ClientURL())
	if err == nil || !strings.Contains(err.Error(), "LW_NATS_UNSET_PW is not set") {
		t.Errorf("missing password variable: err = %v", err)
	}
	if _, err := connect(t, config.NATS{}, s.ClientURL()); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("anonymous connection: err = %v", err)
	}
}

func TestNKeyAuthentication(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	s := testenv.NATS(t, func(o *server.Options) {
		o.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	})
	nc, err := connect(t, config.NATS{NKeyFile: writeFile(t, "user.nk", seed)}, s.ClientURL())
	if err != nil {
		t.Fatalf("nkey: %v", err)
	}
	if !nc.IsConnected() {
		t.Error("not connected")
	}
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	_, err = connect(t, config.NATS{NKeyFile: writeFile(t, "other.nk", otherSeed)}, s.ClientURL())
	if err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("unknown nkey: err = %v", err)
	}
	_, err = connect(t, config.NATS{NKeyFile: filepath.Join(t.TempDir(), "missing.nk")}, s.ClientURL())
	if err == nil || !strings.Contains(err.Error(), "missing.nk") {
		t.Errorf("missing nkey file: err = %v, want the file named", err)
	}
}

// TestCredsFileOperatorMode runs the server in operator (decentralised JWT)
// mode: operator → account LINEWATCH → user JWTs in .creds files.
func TestCredsFileOperatorMode(t *testing.T) {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "linewatch-test-operator"
	ojwt, err := oc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	opClaims, err := jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "LINEWATCH"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	// Operator mode with JetStream needs a system account.
	skp, _ := nkeys.CreateAccount()
	spub, _ := skp.PublicKey()
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sjwt, err := sc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	for pub, tok := range map[string]string{apub: ajwt, spub: sjwt} {
		if err := resolver.Store(pub, tok); err != nil {
			t.Fatal(err)
		}
	}
	s := testenv.NATS(t, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{opClaims}
		o.AccountResolver = resolver
		o.SystemAccount = spub
	})
	creds := func(name string, expires time.Time, pubAllow ...string) string {
		ukp, _ := nkeys.CreateUser()
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		uc.Pub.Allow.Add(pubAllow...)
		uc.Sub.Allow.Add("_INBOX.>")
		if !expires.IsZero() {
			uc.Expires = expires.Unix()
		}
		ujwt, err := uc.Encode(akp)
		if err != nil {
			t.Fatal(err)
		}
		useed, _ := ukp.Seed()
		b, err := jwt.FormatUserConfig(ujwt, useed)
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, name+".creds", b)
	}

	nc, err := connect(t, config.NATS{CredsFile: creds("collector", time.Time{}, "linewatch.telemetry.>")}, s.ClientURL())
	if err != nil {
		t.Fatalf("creds: %v", err)
	}
	if permissionDenied(t, nc, "linewatch.telemetry.plant1.L1.press") {
		t.Error("collector creds may not publish telemetry")
	}
	if !permissionDenied(t, nc, "linewatch.cmd.alarms.ack") {
		t.Error("collector creds could send an operator command")
	}
	_, err = connect(t, config.NATS{CredsFile: creds("expired", time.Now().Add(-time.Hour), ">")}, s.ClientURL())
	// The server does not tell a client why (no oracle for attackers).
	if err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("expired user JWT: err = %v", err)
	}
	// A user signed by an account the operator never issued.
	rogue, _ := nkeys.CreateAccount()
	akp = rogue
	_, err = connect(t, config.NATS{CredsFile: creds("rogue", time.Time{}, ">")}, s.ClientURL())
	if err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("creds from an unknown account: err = %v", err)
	}
}

func TestTLSAndMutualTLS(t *testing.T) {
	pki := newPKI(t)
	s := testenv.NATS(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pki.serverCert, KeyFile: pki.serverKey, CaFile: pki.ca, Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig, o.TLS, o.TLSVerify, o.TLSTimeout = tc, true, true, 2
	})
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
	good := config.TLS{Enabled: true, CAFile: pki.ca, CertFile: pki.clientCert, KeyFile: pki.clientKey}
	nc, err := connect(t, config.NATS{TLS: good}, url)
	if err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	if st, err := nc.TLSConnectionState(); err != nil || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "nats.linewatch.test" {
		t.Errorf("TLS state: %v %v", st.PeerCertificates, err)
	}
	// No client certificate → refused by the server.
	if _, err := connect(t, config.NATS{TLS: config.TLS{Enabled: true, CAFile: pki.ca}}, url); err == nil {
		t.Error("connected without a client certificate although the server requires one")
	}
	// Server not trusted (system roots only) → refused by the client.
	_, err = connect(t, config.NATS{TLS: config.TLS{Enabled: true, CertFile: pki.clientCert, KeyFile: pki.clientKey}}, url)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server certificate: err = %v", err)
	}
	// Plain text to a TLS-only server → refused.
	if _, err := connect(t, config.NATS{}, s.ClientURL()); err == nil {
		t.Error("plain-text connection accepted by a TLS server")
	}
	_, err = connect(t, config.NATS{TLS: config.TLS{Enabled: true, CAFile: filepath.Join(t.TempDir(), "nope.pem")}}, url)
	if err == nil || !strings.Contains(err.Error(), "nope.pem") {
		t.Errorf("missing CA file: err = %v, want it named", err)
	}
}

type pki struct{ ca, serverCert, serverKey, clientCert, clientKey string }

// newPKI writes a CA, a server certificate for 127.0.0.1 and a client certificate.
func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "linewatch test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) (string, string) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(k)
		return write(cn+".pem", "CERTIFICATE", der), write(cn+".key", "EC PRIVATE KEY", kb)
	}
	p := pki{ca: write("ca.pem", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf(2, "nats.linewatch.test", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf(3, "collector-1", x509.ExtKeyUsageClientAuth)
	return p
}
