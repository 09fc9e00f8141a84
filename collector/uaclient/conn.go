package uaclient

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gopcua/opcua"

	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// Session is one established session of a Conn. Down is closed when the
// session is gone; front ends then call Conn.Wait again.
type Session struct {
	Client *opcua.Client
	Gen    uint64
	Limits Limits
	Down   <-chan struct{}
}

// Hooks observe a Conn; all may be nil. They are called from the Conn's
// goroutine and must not block.
type Hooks struct {
	// Attempt is called after every session attempt (err nil = success).
	Attempt func(err error)
	// Up is called when a session is established.
	Up func(at time.Time)
	// Down is called when a session is lost or an attempt failed, with the reason.
	Down func(at time.Time, reason error)
}

// DialFunc opens a session; Dial in production.
type DialFunc func(ctx context.Context, cfg Config, onState func(opcua.ConnState)) (*opcua.Client, Limits, error)

// Conn keeps one session to an endpoint alive for any number of front ends.
type Conn struct {
	cfg        Config
	retry      backoff.Policy // collector.reconnect_min…max, jittered
	clk        clock.Clock
	log        *slog.Logger
	hooks      Hooks
	dial       DialFunc
	closeBound time.Duration

	mu    sync.Mutex
	cur   *Session
	gen   uint64
	ready chan struct{} // closed when cur is set
	down  chan struct{} // closed when cur goes away
	fail  chan failure
}

type failure struct {
	gen uint64
	err error
}

// ConnOptions tune a Conn.
type ConnOptions struct {
	ReconnectMin, ReconnectMax time.Duration
	Clock                      clock.Clock
	Logger                     *slog.Logger
	Hooks                      Hooks
	Dial                       DialFunc // nil = Dial
}

// NewConn makes a Conn; Run starts it.
func NewConn(cfg Config, o ConnOptions) *Conn {
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 500 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = o.ReconnectMin
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Dial == nil {
		o.Dial = Dial
	}
	return &Conn{
		cfg: cfg, retry: backoff.Policy{Min: o.ReconnectMin, Max: o.ReconnectMax, Jitter: true}, clk: o.Clock, log: o.Logger,
		hooks: o.Hooks, dial: o.Dial, closeBound: 2 * time.Second,
		ready: make(chan struct{}), down: make(chan struct{}), fail: make(chan failure, 1),
	}
}

// Endpoint is the endpoint URL.
func (c *Conn) Endpoint() string { return c.cfg.Endpoint }

// Run keeps a session open until ctx is cancelled, then closes it
// (bounded) and returns.
func (c *Conn) Run(ctx context.Context) {
	attempt := 0
	for {
		gen := c.nextGen()
		onState := func(s opcua.ConnState) {
			if s == opcua.Disconnected {
				c.Fail(gen, errors.New("secure channel lost"))
			}
		}
		cl, lim, err := c.dial(ctx, c.cfg, onState)
		if ctx.Err() != nil {
			if err == nil {
				c.closeClient(ctx, cl)
			}
			return
		}
		if c.hooks.Attempt != nil {
			c.hooks.Attempt(err)
		}
		if err != nil {
			c.log.Warn("OPC UA session failed", "endpoint", c.cfg.Endpoint, "attempt", attempt+1, "err", err)
			if c.hooks.Down != nil {
				c.hooks.Down(c.clk.Now().UTC(), err)
			}
			if c.retry.Wait(ctx, c.clk, attempt+1) != nil {
				return
			}
			attempt++
			continue
		}
		upAt, upMono := c.clk.Now(), c.clk.Monotonic()
		c.log.Info("OPC UA session established", "endpoint", c.cfg.Endpoint, "max_nodes_per_read", lim.MaxNodesPerRead)
		c.setUp(&Session{Client: cl, Gen: gen, Limits: lim})
		if c.hooks.Up != nil {
			c.hooks.Up(upAt.UTC())
		}
		var reason error
		for reason == nil {
			select {
			case <-ctx.Done():
				c.setDown()
				c.closeClient(ctx, cl)
				return
			case f := <-c.fail:
				if f.gen == gen {
					reason = f.err
				}
			}
		}
		c.setDown()
		c.closeClient(ctx, cl)
		c.log.Warn("OPC UA session lost; reconnecting", "endpoint", c.cfg.Endpoint, "err", reason)
		if c.hooks.Down != nil {
			c.hooks.Down(c.clk.Now().UTC(), reason)
		}
		// A session that lived long resets the backoff; one that dies at
		// once (server accepts, then fails every read) keeps backing off.
		if c.clk.Monotonic()-upMono >= c.retry.Max {
			attempt = 0
		}
		if c.retry.Wait(ctx, c.clk, attempt+1) != nil {
			return
		}
		attempt++
	}
}

// closeClient closes a session within closeBound. gopcua's secure channel
// close is not bounded by a context, so a client that does not finish in
// time is abandoned rather than blocking the reconnect loop.
func (c *Conn) closeClient(ctx context.Context, cl *opcua.Client) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.closeBound)
		defer cancel()
		cl.Close(cctx)
	}()
	t := time.NewTimer(c.closeBound + time.Second) // real time: this waits on I/O, not on the schedule
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.log.Warn("OPC UA client did not close in time; abandoned", "endpoint", c.cfg.Endpoint)
	}
}

func (c *Conn) nextGen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	return c.gen
}

func (c *Conn) setUp(s *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.Down = c.down
	c.cur = s
	close(c.ready)
}

func (c *Conn) setDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return
	}
	c.cur = nil
	close(c.down)
	c.down = make(chan struct{})
	c.ready = make(chan struct{})
}

// Wait returns the current session, waiting until there is one.
func (c *Conn) Wait(ctx context.Context) (*Session, error) {
	for {
		c.mu.Lock()
		s, ready := c.cur, c.ready
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ready:
		}
	}
}

// Current returns the session, or nil while disconnected.
func (c *Conn) Current() *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// Fail reports that session gen is unusable (its request failed at the
// service or connection level); the Conn replaces it. Reports for an
// older session are ignored.
func (c *Conn) Fail(gen uint64, err error) {
	select {
	case c.fail <- failure{gen, err}:
	default: // one pending report is enough
		select {
		case old := <-c.fail:
			if old.gen > gen {
				gen, err = old.gen, old.err
			}
		default:
		}
		select {
		case c.fail <- failure{gen, err}:
		default:
		}
	}
}
