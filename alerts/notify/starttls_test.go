package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/config"
)

func TestEmailSTARTTLS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)

	t.Setenv("LW_TEST_SMTP_PW", "over-tls")
	r := newRig(t)
	smtpd := startSMTP(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	r.start(t, config.Alarms{Routes: []config.Route{{Name: "mail", Email: &config.Email{
		SMTP: smtpd.Addr, From: "lw@plant.example", To: []string{"qa@plant.example"}, StartTLS: true,
		Username: "lw", PasswordEnv: "LW_TEST_SMTP_PW",
	}}}}, func(o *notify.Options) { o.EmailTLS = &tls.Config{RootCAs: pool} })
	a := testAlarm("L1", "filler", alerts.High)
	r.svc.activate(&a, t0)
	select {
	case m := <-smtpd.Messages:
		if !m.TLS || m.Auth != "lw:over-tls" {
			t.Errorf("message TLS=%v auth=%q; want the password sent only after STARTTLS", m.TLS, m.Auth)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no email over STARTTLS")
	}
}
