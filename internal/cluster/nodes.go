package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
)

// Node is one nats-server process of the cluster.
type Node struct {
	Name        string
	ClientPort  int
	ClusterPort int
	Conf        string // its config file
	Log         string // its log file

	bin string
	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the current process has been reaped.
	exited chan struct{}
}

// URL is the node's client URL.
func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.ClientPort) }

// Cluster is three (or Options.Nodes) nats-server processes with
// JetStream, routes to each other and linewatch's role credentials.
type Cluster struct {
	Nodes []*Node
	// CredDir holds the role seeds (bus.CredentialsDir of the data dir).
	CredDir string
	logf    func(string, ...any)
}

// NodesOptions configures StartNodes.
type NodesOptions struct {
	Dir     string // everything lives here: node stores, configs, logs
	DataDir string // linewatch's data_dir: the role credentials are created in <DataDir>/nats-auth
	Nodes   int    // default 3
	Bin     string // nats-server binary (NATSServerBinary)
	Logf    func(string, ...any)
}

// StartNodes writes one config per node (bus.ServerConfig) on free
// loopback ports and starts the servers; it returns when every node
// accepts clients and JetStream answers through the cluster.
func StartNodes(ctx context.Context, o NodesOptions) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(o.DataDir))
	if err != nil {
		return nil, err
	}
	c := &Cluster{CredDir: creds.Dir, logf: o.Logf}
	ports, err := FreePorts(2 * o.Nodes)
	if err != nil {
		return nil, err
	}
	var routes []string
	for i := range o.Nodes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[o.Nodes+i]))
	}
	for i := range o.Nodes {
		n := &Node{Name: fmt.Sprintf("n%d", i+1), ClientPort: ports[i], ClusterPort: ports[o.Nodes+i], bin: o.Bin}
		dir := filepath.Join(o.Dir, n.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		text, err := bus.ServerConfig(bus.ServerConfigOptions{
			Name: n.Name, Listen: fmt.Sprintf("127.0.0.1:%d", n.ClientPort), StoreDir: filepath.Join(dir, "jetstream"),
			Cluster: "linewatch", ClusterListen: fmt.Sprintf("127.0.0.1:%d", n.ClusterPort), Routes: routes, Credentials: creds,
		})
		if err != nil {
			return nil, err
		}
		n.Conf, n.Log = filepath.Join(dir, "nats-server.conf"), filepath.Join(dir, "nats-server.log")
		if err := os.WriteFile(n.Conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if err := n.start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := waitTCP(ctx, n.ClientPort, 20*time.Second); err != nil {
			c.Close()
			return nil, fmt.Errorf("nats-server %s: %w (log %s)", n.Name, err, n.Log)
		}
	}
	if err := c.WaitJetStream(ctx, 60*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("nats-server %s already running", n.Name)
	}
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, "-c", n.Conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start nats-server %s: %w", n.Name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	n.cmd, n.exited = cmd, exited
	return nil
}

// Kill SIGKILLs the node and waits until it is gone.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Restart starts a killed node again with the same config and store and
// waits until it accepts clients.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.start(); err != nil {
		return err
	}
	return waitTCP(ctx, n.ClientPort, 20*time.Second)
}

// Running reports whether the node's process is up.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// URLs is the comma-separated client URL list of every node (nats.url).
func (c *Cluster) URLs() string {
	var us []string
	for _, n := range c.Nodes {
		us = append(us, n.URL())
	}
	return strings.Join(us, ",")
}

// Node returns the node named name (n1, n2, …), or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Close kills every node.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// Connect opens a connection with role r's credentials to every node.
func (c *Cluster) Connect(r bus.Role) (*nats.Conn, jetstream.JetStream, error) {
	opt, err := nats.NkeyOptionFromSeed(bus.SeedFile(c.CredDir, r))
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(c.URLs(), opt, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// WaitJetStream waits until JetStream answers through the cluster (a
// meta leader is elected).
func (c *Cluster) WaitJetStream(ctx context.Context, d time.Duration) error {
	nc, js, err := c.Connect(bus.RoleAdmin)
	if err != nil {
		return err
	}
	defer nc.Close()
	deadline := time.Now().Add(d)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("JetStream not available on the cluster within %s: %w", d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Leader is the server name of the leader of stream (a bucket's stream
// is KV_<bucket>), and the names of its replicas.
func Leader(ctx context.Context, js jetstream.JetStream, stream string) (string, []string, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return "", nil, fmt.Errorf("stream %s: no leader", stream)
	}
	var peers []string
	for _, p := range info.Cluster.Replicas {
		peers = append(peers, p.Name)
	}
	return info.Cluster.Leader, peers, nil
}

// WaitLeader polls until stream has a leader that is not avoid ("" for
// any), and returns it.
func WaitLeader(ctx context.Context, js jetstream.JetStream, stream, avoid string, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		l, _, err := Leader(actx, js, stream)
		cancel()
		if err == nil && l != avoid {
			return l, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("leader still %s", l)
			}
			return "", fmt.Errorf("stream %s: no new leader within %s: %w", stream, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FreePorts returns n distinct free loopback TCP ports.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitTCP(ctx context.Context, port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(fmt.Errorf("port %d not accepting within %s", port, d), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID of the running node (0 when down).
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}
