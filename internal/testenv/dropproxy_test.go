package testenv

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The proxy loses exactly the messages it is told to, in the direction
// it is told to, and the connection stays up.
func TestDropProxyLosesWholeMessagesIntegration(t *testing.T) {
	srv := NATS(t)
	p := NewDropProxy(t, srv.Addr().String())
	direct, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	proxied, err := nats.Connect(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer proxied.Close()

	recv := func(sub *nats.Subscription, want ...string) {
		t.Helper()
		for _, w := range want {
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("waiting for %s: %v", w, err)
			}
			if got := m.Subject + " " + string(m.Data); got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		}
	}

	// Client → server: two of the a.* publishes are lost, b.* passes.
	sub, err := direct.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := direct.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Drop(ToServer, "a.", 2)
	for _, s := range []string{"a.1", "b.1", "a.2", "a.3"} {
		if err := proxied.Publish(s, []byte("payload\r\nwith CRLF "+s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := proxied.Flush(); err != nil {
		t.Fatalf("the proxied connection broke: %v", err)
	}
	recv(sub, "b.1 payload\r\nwith CRLF b.1", "a.3 payload\r\nwith CRLF a.3")
	if n := p.Dropped(ToServer); n != 2 {
		t.Errorf("dropped %d to the server, want 2", n)
	}

	// Server → client: deliveries are lost until Pass.
	psub, err := proxied.SubscribeSync("c.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := proxied.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Drop(ToClient, "c.", 0)
	direct.Publish("c.lost", []byte("x"))
	if err := direct.Flush(); err != nil {
		t.Fatal(err)
	}
	// A round trip through the proxy: the delivery before it was read
	// (and dropped) when the PONG comes back.
	if err := proxied.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Pass(ToClient)
	direct.Publish("c.kept", []byte("y"))
	recv(psub, "c.kept y")
	if n := p.Dropped(ToClient); n != 1 {
		t.Errorf("dropped %d to the client, want 1", n)
	}
	if !proxied.IsConnected() {
		t.Error("the proxied connection is down")
	}
}
