package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/influxd"
)

var (
	influxOnce sync.Once
	influxSrv  *influxd.Server
	influxErr  error
	influxDir  string
	dbSeq      atomic.Int64
)

// Main runs the package's tests, stops the shared InfluxDB, and fails the
// binary if goroutines leaked (pass goleak options to ignore known ones).
func Main(m *testing.M, leakOpts ...goleak.Option) {
	_, statErr := os.Stat(config.DefaultDataDir)
	hadDataDir := statErr == nil
	code := m.Run()
	// A test that leaves the default data directory in the package folder
	// wrote state (keys, spool) outside its temp dir: a path derived from
	// data_dir was not moved (config.MoveDataDir).
	if _, err := os.Stat(config.DefaultDataDir); err == nil && !hadDataDir {
		fmt.Fprintf(os.Stderr, "testenv: a test wrote %s/ into the package directory; point the config at t.TempDir() with config.MoveDataDir\n", config.DefaultDataDir)
		os.RemoveAll(config.DefaultDataDir)
		code = 1
	}
	if influxSrv != nil {
		influxSrv.Stop()
	}
	if influxDir != "" {
		os.RemoveAll(influxDir)
	}
	if code == 0 {
		opts := append([]goleak.Option{
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
			goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine"),
		}, leakOpts...)
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// InfluxDB is a database of its own on the shared test InfluxDB.
type InfluxDB struct {
	Server   *influxd.Server
	URL      string
	Database string
}

// Query runs InfluxQL against the test database and decodes the first
// series' values.
func (db InfluxDB) Query(t testing.TB, q string) [][]any {
	t.Helper()
	raw, err := db.Server.Query(context.Background(), db.Database, q)
	if err != nil {
		t.Fatalf("InfluxQL %q: %v", q, err)
	}
	var resp struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	var out [][]any
	for _, r := range resp.Results {
		for _, s := range r.Series {
			out = append(out, s.Values...)
		}
	}
	return out
}

// Count returns SELECT count(field) FROM measurement [WHERE …].
func (db InfluxDB) Count(t testing.TB, field, from, where string) int {
	t.Helper()
	q := fmt.Sprintf("SELECT count(%q) FROM %s", field, from)
	if where != "" {
		q += " WHERE " + where
	}
	rows := db.Query(t, q)
	if len(rows) == 0 {
		return 0
	}
	n, _ := rows[0][1].(float64)
	return int(n)
}

// SkipShort skips an integration test under -short: every test that
// starts a real server (InfluxDB, NATS, a browser, a simulated plant over
// sockets in a whole pipeline) goes through here or is named
// …Integration, so `go test -short ./...` is the fast unit tier and
// `make test` still runs everything.
func SkipShort(t testing.TB, starts string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test (starts %s): skipped with -short", starts)
	}
}

var nonID = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// Influx returns a fresh database on the shared InfluxDB of this test binary,
// starting (and on first use installing) InfluxDB 1.8.10.
func Influx(t testing.TB) InfluxDB {
	t.Helper()
	SkipShort(t, "InfluxDB")
	influxOnce.Do(func() {
		influxDir, influxErr = os.MkdirTemp("", "linewatch-influxd-")
		if influxErr != nil {
			return
		}
		influxSrv, influxErr = influxd.Start(context.Background(), influxd.Options{
			DataDir: influxDir, LogFile: filepath.Join(influxDir, "influxd.log"),
		})
	})
	if influxErr != nil {
		t.Fatalf("start InfluxDB: %v", influxErr)
	}
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), nonID.ReplaceAllString(t.Name(), "_"))
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.ToLower(name)
	if _, err := influxSrv.Query(context.Background(), "", fmt.Sprintf("CREATE DATABASE %q", name)); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { influxSrv.Query(context.Background(), "", fmt.Sprintf("DROP DATABASE %q", name)) })
	return InfluxDB{Server: influxSrv, URL: influxSrv.URL(), Database: name}
}

// StartInflux starts a private InfluxDB for a test that must stop or restart
// it (outage tests). It is stopped at cleanup.
func StartInflux(t testing.TB, opts influxd.Options) *influxd.Server {
	t.Helper()
	SkipShort(t, "InfluxDB")
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.LogFile == "" {
		opts.LogFile = filepath.Join(opts.DataDir, "influxd.log")
	}
	s, err := influxd.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start InfluxDB: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// NATS starts an embedded NATS server with JetStream for this test,
// without authentication unless configure adds users (see SecureNATS for
// linewatch's own role credentials).
func NATS(t testing.TB, configure ...func(*server.Options)) *server.Server {
	t.Helper()
	o := bus.EmbeddedOptions{StoreDir: t.TempDir(), Anonymous: true}
	if len(configure) > 0 {
		o.Configure = configure[0]
	}
	return startNATS(t, o)
}

// SecureNATS starts the embedded server the way `linewatch run` does:
// role credentials generated in dataDir/nats-auth (bus.EnsureCredentials),
// each role with its permission set, no anonymous access. Connect with
// RoleConn.
func SecureNATS(t testing.TB, dataDir string) *server.Server {
	t.Helper()
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(dataDir))
	if err != nil {
		t.Fatalf("NATS credentials: %v", err)
	}
	return startNATS(t, bus.EmbeddedOptions{StoreDir: filepath.Join(dataDir, "nats"), Credentials: creds})
}

func startNATS(t testing.TB, o bus.EmbeddedOptions) *server.Server {
	t.Helper()
	SkipShort(t, "NATS")
	s, err := bus.StartEmbedded(o)
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// RoleConn connects to url as role with its seed in dataDir/nats-auth.
func RoleConn(t testing.TB, url, dataDir string, role bus.Role) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(bus.SeedFile(bus.CredentialsDir(dataDir), role))
	if err != nil {
		t.Fatalf("NATS %s credential: %v", role, err)
	}
	nc, err := nats.Connect(url, opt, nats.Name("test-"+string(role)))
	if err != nil {
		t.Fatalf("connect NATS as %s: %v", role, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	return nc, js
}

// NATSConn starts an embedded NATS server with the linewatch streams and
// returns a connection and its JetStream context.
func NATSConn(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	s := NATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	if err := bus.EnsureStreams(context.Background(), js, bus.StreamOptions{}); err != nil {
		t.Fatalf("streams: %v", err)
	}
	return nc, js
}
