package telemetry

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// lossyLink is a TCP relay between a NATS client and a real server that
// loses traffic on demand: the one fault a real server cannot be made to
// produce at a chosen message (a publish stored whose acknowledgement
// never arrives; a publish lost on the way).
type lossyLink struct {
	ln      net.Listener
	target  string
	toCli   atomic.Bool // forward server → client
	toSrv   atomic.Bool // forward client → server
	refuse  atomic.Bool // close new connections at once
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
	stopped atomic.Bool
}

func newLossyLink(t *testing.T, target string) *lossyLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &lossyLink{ln: ln, target: target}
	l.toCli.Store(true)
	l.toSrv.Store(true)
	l.wg.Add(1)
	go l.accept()
	t.Cleanup(func() {
		l.stopped.Store(true)
		ln.Close()
		l.cut()
		l.wg.Wait()
	})
	return l
}

func (l *lossyLink) url() string { return "nats://" + l.ln.Addr().String() }

func (l *lossyLink) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if l.refuse.Load() {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, c, s)
		l.mu.Unlock()
		l.wg.Add(2)
		go l.pipe(s, c, &l.toCli)
		go l.pipe(c, s, &l.toSrv)
	}
}

// pipe copies from src to dst while forward is set, and discards otherwise.
func (l *lossyLink) pipe(src, dst net.Conn, forward *atomic.Bool) {
	defer l.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && forward.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every relayed connection (the held traffic is lost).
func (l *lossyLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}
