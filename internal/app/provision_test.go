package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// retryLog counts Provision's "not ready" warnings.
type retryLog struct {
	mu    sync.Mutex
	n     int
	first chan struct{}
}

func (h *retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *retryLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *retryLog) WithGroup(string) slog.Handler            { return h }
func (h *retryLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "not ready") {
		h.mu.Lock()
		h.n++
		if h.n == 1 {
			close(h.first)
		}
		h.mu.Unlock()
	}
	return nil
}

func names(js jetstream.JetStream) (map[string]int, error) {
	out := map[string]int{}
	l := js.ListStreams(context.Background())
	for si := range l.Info() {
		out[si.Config.Name] = si.Config.Replicas
	}
	return out, l.Err()
}

func wantNames(p Provisioning) []string {
	var out []string
	for _, s := range p.Streams {
		out = append(out, s.Name)
	}
	for _, b := range p.Buckets {
		out = append(out, "KV_"+b.Bucket)
	}
	slices.Sort(out)
	return out
}

// Roles started before the server (or its JetStream) is up: provisioning
// waits and retries instead of exiting, and succeeds once it is.
func TestProvisionWaitsForJetStreamIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	h := &retryLog{first: make(chan struct{})}
	done := make(chan error, 1)
	p := Provisioned(cfg)
	go func() {
		done <- Provision(context.Background(), js, p, ProvisionOptions{Attempt: 300 * time.Millisecond, Logger: slog.New(h)})
	}()
	select {
	case <-h.first:
	case err := <-done:
		t.Fatalf("Provision returned before the server started: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no retry within 20 s")
	}
	// Now the server starts.
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Provision after the server came up: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Provision did not finish within 30 s of the server starting")
	}
	got, err := names(js)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range wantNames(p) {
		if _, ok := got[n]; !ok {
			t.Errorf("stream %s not provisioned", n)
		}
	}
	// Idempotent: a second run changes nothing and succeeds at once.
	if err := Provision(context.Background(), js, p, ProvisionOptions{}); err != nil {
		t.Errorf("second Provision: %v", err)
	}
}

// nats.replicas larger than a standalone server allows is permanent: a
// clear error, not an endless retry.
func TestProvisionReplicasOnStandaloneFailsIntegration(t *testing.T) {
	s := testenv.NATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.NATS.Replicas = 3
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = Provision(ctx, js, Provisioned(cfg), ProvisionOptions{PeerWait: time.Second, Logger: slog.New(&retryLog{first: make(chan struct{})})})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Provision with 3 replicas on one server: err %v, ctx %v; want a permanent error before the deadline", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "TELEMETRY") || !strings.Contains(err.Error(), "replica") {
		t.Errorf("error does not name the stream and the replicas: %v", err)
	}
}

// Every stream and bucket honours nats.replicas on a three-node cluster.
func TestProvisionReplicasOnClusterIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS cluster")
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.NATS.Replicas = 3
	urls := natsCluster(t)
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := Provisioned(cfg)
	// Started right away: the meta leader is still being elected.
	if err := Provision(ctx, js, p, ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := names(js)
	if err != nil {
		t.Fatal(err)
	}
	want := wantNames(p)
	for _, n := range want {
		if r, ok := got[n]; !ok {
			t.Errorf("%s not provisioned", n)
		} else if r != 3 {
			t.Errorf("%s has %d replicas, want nats.replicas = 3", n, r)
		}
	}
	for n := range got {
		if !slices.Contains(want, n) {
			t.Errorf("stream %s exists but is not in the provisioning list", n)
		}
	}
	t.Logf("%d streams and buckets with 3 replicas: %v", len(want), want)
}

// natsCluster starts three embedded nats-servers with JetStream, routed
// into one cluster, and returns their client URLs. It does not wait for
// the meta leader: callers start on a cluster still forming.
func natsCluster(t *testing.T) []string {
	t.Helper()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var srvs []*server.Server
	for i, p := range ports {
		o := &server.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: filepath.Join(t.TempDir(), fmt.Sprint(i)), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "lw", Host: "127.0.0.1", Port: p}, Routes: server.RoutesFromStr(strings.Join(routes, ","))}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		srvs = append(srvs, s)
	}
	t.Cleanup(func() {
		for _, s := range srvs {
			s.Shutdown()
			s.WaitForShutdown()
		}
	})
	for _, s := range srvs {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("cluster node not ready")
		}
	}
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.ClientURL())
	}
	return urls
}

// Four processes provisioning together on a fresh three-node cluster
// (every role started at once): all succeed, each stream and bucket
// exists with its replicas. Racing creates of one stream may never be
// answered (see Provision); before attempts were short and retried at
// once, each process waited out a 10 s attempt per stream — over 2 min
// for the 13 — so the 30 s deadline on the real servers catches it.
func TestProvisionConcurrentOnFreshClusterIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS cluster")
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.NATS.Replicas = 3
	urls := natsCluster(t)
	p := Provisioned(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const procs = 4
	errs := make(chan error, procs)
	var took [procs]time.Duration
	var wg sync.WaitGroup
	for i := range procs {
		// Each process lists the nodes in its own order, as the roles of
		// separate hosts do.
		order := slices.Clone(urls)
		for range i {
			order = append(order[1:], order[0])
		}
		nc, err := nats.Connect(strings.Join(order, ","), nats.DontRandomize())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		wg.Go(func() {
			start := time.Now()
			errs <- Provision(ctx, js, p, ProvisionOptions{})
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("provisioned by %d processes together in %v", procs, took)
	nc, err := nats.Connect(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	got, err := names(js)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range wantNames(p) {
		if r := got[n]; r != 3 {
			t.Errorf("%s has %d replicas, want 3", n, r)
		}
	}
}
