package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Direction is one way through a DropProxy.
type Direction int

const (
	ToServer Direction = iota // client → server: publishes, pull requests, acks
	ToClient                  // server → client: deliveries, replies, heartbeats
)

func (d Direction) String() string {
	if d == ToServer {
		return "to server"
	}
	return "to client"
}

// DropProxy is a TCP proxy in front of a real NATS server that can be
// told to lose messages silently in one direction for a while: a pull
// request lost in a leader change or on a route, a delivery that never
// arrives. The connection stays up and nothing is reported to either
// side — the fault a real server cannot be made to produce on demand.
// It cuts whole NATS protocol messages (a line, plus its payload for
// PUB, HPUB, MSG and HMSG), so what passes is still a valid stream;
// everything else of the server is real.
type DropProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	rules   [2]dropRule
	dropped [2]int
	conns   map[net.Conn]struct{}
	refuse  bool // close new connections at once
	closed  bool
	wg      sync.WaitGroup
}

// dropRule: drop messages whose subject starts with prefix ("" every
// message), at most left more (-1: no limit).
type dropRule struct {
	on     bool
	prefix string
	left   int
}

// NewDropProxy listens on a free loopback port and forwards each
// connection to target (host:port). It is closed at cleanup.
func NewDropProxy(t testing.TB, target string) *DropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("drop proxy: %v", err)
	}
	p := &DropProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// URL is the proxy's NATS URL: connect the client under test here.
func (p *DropProxy) URL() string { return "nats://" + p.ln.Addr().String() }

// Drop starts losing, in direction d, the protocol messages whose
// subject starts with prefix ("": every message, PING and PONG too),
// until n have been lost (n ≤ 0: until Pass).
func (p *DropProxy) Drop(d Direction, prefix string, n int) {
	if n <= 0 {
		n = -1
	}
	p.mu.Lock()
	p.rules[d] = dropRule{on: true, prefix: prefix, left: n}
	p.mu.Unlock()
}

// Pass stops losing messages in direction d.
func (p *DropProxy) Pass(d Direction) {
	p.mu.Lock()
	p.rules[d] = dropRule{}
	p.mu.Unlock()
}

// Dropped is how many messages were lost in direction d so far.
func (p *DropProxy) Dropped(d Direction) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped[d]
}

// Disconnect closes every connection through the proxy (the client sees
// its connection drop and reconnects through the proxy).
func (p *DropProxy) Disconnect() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Refuse makes the proxy close new connections at once while on (a
// server that cannot be reached), or accept them again.
func (p *DropProxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *DropProxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *DropProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		if p.refuse {
			p.mu.Unlock()
			client.Close()
			server.Close()
			continue
		}
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		// Either side ending ends both: the client sees a real disconnect.
		end := func() {
			client.Close()
			server.Close()
			p.mu.Lock()
			delete(p.conns, client)
			delete(p.conns, server)
			p.mu.Unlock()
		}
		p.wg.Go(func() { p.forward(ToServer, client, server); end() })
		p.wg.Go(func() { p.forward(ToClient, server, client); end() })
	}
}

// forward copies protocol messages from src to dst, leaving out those
// the rule of direction d drops.
func (p *DropProxy) forward(d Direction, src io.Reader, dst io.Writer) {
	r := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(dst, 64<<10)
	for {
		msg, subject, err := readProtoMsg(r)
		if err != nil {
			return
		}
		if !p.drop(d, subject) {
			if _, err := w.Write(msg); err != nil {
				return
			}
		}
		// Flush once nothing more is buffered: as soon as the sender
		// stops, without a write per message in a burst.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

func (p *DropProxy) drop(d Direction, subject string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	rule := &p.rules[d]
	if !rule.on || !strings.HasPrefix(subject, rule.prefix) {
		return false
	}
	p.dropped[d]++
	if rule.left > 0 {
		rule.left--
		if rule.left == 0 {
			*rule = dropRule{}
		}
	}
	return true
}

// readProtoMsg reads one NATS protocol message: its control line and,
// for PUB, HPUB, MSG and HMSG, the payload (its size is the line's last
// field) and the CRLF after it. subject is the line's second field
// (empty for PING, PONG, INFO, CONNECT, +OK, -ERR: they match prefix ""
// only, as every subject does).
func readProtoMsg(r *bufio.Reader) (msg []byte, subject string, err error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, "", err
	}
	fields := bytes.Fields(line)
	if len(fields) == 0 {
		return line, "", nil
	}
	switch strings.ToUpper(string(fields[0])) {
	case "PUB", "HPUB", "MSG", "HMSG":
	case "SUB":
		if len(fields) > 1 {
			return line, string(fields[1]), nil
		}
		return line, "", nil
	default:
		return line, "", nil
	}
	if len(fields) < 3 {
		return nil, "", fmt.Errorf("drop proxy: malformed %q", line)
	}
	size, err := strconv.Atoi(string(fields[len(fields)-1]))
	if err != nil || size < 0 {
		return nil, "", fmt.Errorf("drop proxy: no payload size in %q", line)
	}
	msg = make([]byte, len(line)+size+2)
	copy(msg, line)
	if _, err := io.ReadFull(r, msg[len(line):]); err != nil {
		return nil, "", err
	}
	return msg, string(fields[1]), nil
}
