package uaclient

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"

	"github.com/linewatch/linewatch/collector/pki"
)

// TestPoliciesAndCertificateAuth connects with the two newer policies and the
// certificate user token, which the plant simulator
// does not offer, against a plain gopcua server over a real socket.
func TestPoliciesAndCertificateAuth(t *testing.T) {
	srvPKI := pki.Open(t.TempDir())
	srvCert, srvKey, err := srvPKI.OwnCertificate("urn:test:server")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := server.New(
		server.EndPoint("127.0.0.1", port), server.Certificate(srvCert), server.PrivateKey(srvKey),
		server.EnableSecurity("Aes128_Sha256_RsaOaep", ua.MessageSecurityModeSignAndEncrypt),
		server.EnableSecurity("Aes256_Sha256_RsaPss", ua.MessageSecurityModeSign),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.EnableAuthMode(ua.UserTokenTypeCertificate),
	)
	srvCtx, stopSrv := context.WithCancel(context.Background())
	if err := srv.Start(srvCtx); err != nil {
		stopSrv()
		t.Fatal(err)
	}
	defer func() {
		srv.Close()
		stopSrv() // ends the server's connection monitor
	}()
	endpoint := fmt.Sprintf("opc.tcp://127.0.0.1:%d", port)

	client := pki.Open(t.TempDir())
	cert, key, err := client.OwnCertificate("urn:linewatch:collector:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(client.TrustedDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(client.TrustedDir(), "server.der"), srvCert, 0o644); err != nil {
		t.Fatal(err)
	}
	userPKI := pki.Open(t.TempDir())
	userCert, userKey, err := userPKI.OwnCertificate("urn:test:user")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ policy, mode, auth string }{
		{"Aes128_Sha256_RsaOaep", "SignAndEncrypt", "anonymous"},
		{"Aes256_Sha256_RsaPss", "Sign", "anonymous"},
		{"Basic256Sha256", "SignAndEncrypt", "certificate"},
	} {
		t.Run(c.policy+"/"+c.auth, func(t *testing.T) {
			auth := Auth{Type: c.auth}
			if c.auth == "certificate" {
				auth.Certificate, auth.PrivateKey = userCert, userKey
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cl, _, err := Dial(ctx, Config{Endpoint: endpoint, Policy: c.policy, Mode: c.mode, Certificate: cert, PrivateKey: key,
				AppURI: "urn:linewatch:collector:test", PKI: client, TrustDir: client.TrustedDir(), Auth: auth}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close(context.Background())
			v, err := cl.Node(ua.NewNumericNodeID(0, 2255)).Value(ctx) // Server_NamespaceArray
			if err != nil {
				t.Fatal(err)
			}
			if ns, ok := v.Value().([]string); !ok || len(ns) == 0 {
				t.Fatalf("namespace array %v", v.Value())
			}
		})
	}
}
