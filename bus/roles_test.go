package bus_test

import (
	"context"
	"errors"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

// secureRig is the embedded server as `linewatch run` starts it (role
// nkeys in dataDir/nats-auth, permission sets of bus.Permissions), with
// the streams, the alarm bucket, the audit stream and the notifier's
// consumer set up by admin and alerts.
type secureRig struct {
	url, dataDir string
	admin        jetstream.JetStream
	alarmsKV     jetstream.KeyValue
}

func newSecureRig(t *testing.T) *secureRig {
	t.Helper()
	if testing.Short() {
		t.Skip("starts NATS")
	}
	dir := t.TempDir()
	s := testenv.SecureNATS(t, dir)
	r := &secureRig{url: s.ClientURL(), dataDir: dir}
	ctx := t.Context()
	_, r.admin = testenv.RoleConn(t, r.url, dir, bus.RoleAdmin)
	if err := bus.EnsureStreams(ctx, r.admin, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.admin.CreateStream(ctx, jetstream.StreamConfig{Name: "AUDIT", Subjects: []string{"linewatch.audit.>"}, DenyDelete: true, DenyPurge: true}); err != nil {
		t.Fatal(err)
	}
	_, ajs := testenv.RoleConn(t, r.url, dir, bus.RoleAlerts)
	var err error
	if r.alarmsKV, err = ajs.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LINEWATCH_ALARMS", History: 1}); err != nil {
		t.Fatalf("alerts creates the alarm bucket: %v", err)
	}
	if _, err := r.alarmsKV.Put(ctx, "plant1.L1.press.reject", []byte(`{"state":"unacknowledged"}`)); err != nil {
		t.Fatalf("alerts writes alarm state: %v", err)
	}
	if _, err := ajs.Publish(ctx, "linewatch.audit.entries", []byte(`{"seq":1}`)); err != nil {
		t.Fatalf("alerts appends to the audit trail: %v", err)
	}
	if _, err := ajs.CreateOrUpdateConsumer(ctx, bus.StreamAlarms, jetstream.ConsumerConfig{Durable: bus.ConsumerNotify, AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("alerts creates the notifier consumer: %v", err)
	}
	return r
}

// short bounds one refused JetStream call (a publish refused by the server
// gets no reply).
func short(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// refused reports whether a call failed because the server refused a
// publish on a subject containing subj (not merely a timeout).
func refused(nc *nats.Conn, err error, subj string) bool {
	if err == nil {
		return false
	}
	nc.Flush()
	last := nc.LastError()
	return last != nil && strings.Contains(last.Error(), "Permissions Violation") && strings.Contains(last.Error(), subj)
}

func TestEmbeddedRefusesAnonymousAndUnknownKeysIntegration(t *testing.T) {
	r := newSecureRig(t)
	if nc, err := nats.Connect(r.url); err == nil || !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous local client: err = %v, want an authorization violation", err)
	}
	if _, err := connect(t, config.NATS{User: "admin", PasswordEnv: "LW_TEST_GUESS"}, r.url); err == nil {
		t.Error("user/password guess accepted")
	}
	stranger, _ := nkeys.CreateUser()
	seed, _ := stranger.Seed()
	if _, err := connect(t, config.NATS{NKeyFile: writeFile(t, "stranger.nk", seed)}, r.url); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("unknown nkey: err = %v", err)
	}
	// Every role connects with its own seed.
	for _, role := range bus.Roles {
		cfg := &config.Config{DataDir: r.dataDir}
		n, err := bus.ForRole(cfg, role)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := connect(t, n, r.url); err != nil {
			t.Errorf("%s with its credential: %v", role, err)
		}
	}
}

func TestOperatorCannotWriteAlarmStateIntegration(t *testing.T) {
	r := newSecureRig(t)
	nc, js := testenv.RoleConn(t, r.url, r.dataDir, bus.RoleOperator)
	kv, err := js.KeyValue(t.Context(), "LINEWATCH_ALARMS")
	if err != nil {
		t.Fatalf("operator opens the alarm bucket to read it: %v", err)
	}
	if e, err := kv.Get(t.Context(), "plant1.L1.press.reject"); err != nil || string(e.Value()) != `{"state":"unacknowledged"}` {
		t.Fatalf("operator reads alarm state: %v", err)
	}
	forged := []byte(`{"state":"acknowledged","by":"carol"}`)
	if _, err := kv.Put(short(t), "plant1.L1.press.reject", forged); !refused(nc, err, "$KV.LINEWATCH_ALARMS.plant1.L1.press.reject") {
		t.Errorf("operator KV put not refused: %v", err)
	}
	if _, err := kv.Update(short(t), "plant1.L1.press.reject", forged, 1); !refused(nc, err, "$KV.LINEWATCH_ALARMS.plant1.L1.press.reject") {
		t.Errorf("operator KV compare-and-set not refused: %v", err)
	}
	if err := kv.Delete(short(t), "plant1.L1.press.reject"); !refused(nc, err, "$KV.LINEWATCH_ALARMS.plant1.L1.press.reject") {
		t.Errorf("operator KV delete not refused: %v", err)
	}
	for _, subj := range []string{"$KV.LINEWATCH_ALARMS.plant1.L1.press.reject", "linewatch.alarms.plant1.L1.urgent",
		"$KV.LINEWATCH_NOTIFY_DEDUPE.x", "linewatch.telemetry.plant1.L1.press", "linewatch.findings.plant1.L1",
		"$JS.API.STREAM.DELETE.KV_LINEWATCH_ALARMS", "$JS.API.STREAM.PURGE.KV_LINEWATCH_ALARMS",
		"$JS.API.STREAM.UPDATE.KV_LINEWATCH_ALARMS", "$JS.API.STREAM.MSG.DELETE.KV_LINEWATCH_ALARMS"} {
		if !permissionDenied(t, nc, subj) {
			t.Errorf("operator may publish on %s", subj)
		}
	}
	e, err := r.alarmsKV.Get(t.Context(), "plant1.L1.press.reject")
	if err != nil || string(e.Value()) != `{"state":"unacknowledged"}` || e.Revision() != 1 {
		t.Errorf("alarm state after the attacks: %v %q", err, e.Value())
	}
}

func TestOperatorCannotAppendToAuditIntegration(t *testing.T) {
	r := newSecureRig(t)
	nc, js := testenv.RoleConn(t, r.url, r.dataDir, bus.RoleOperator)
	entry := []byte(`{"seq":2,"actor":"carol","action":"report.signed"}`)
	if _, err := js.Publish(short(t), "linewatch.audit.entries", entry, jetstream.WithExpectLastSequence(1)); !refused(nc, err, "linewatch.audit.entries") {
		t.Errorf("operator audit append not refused: %v", err)
	}
	for _, subj := range []string{"linewatch.audit.entries", "$JS.API.STREAM.DELETE.AUDIT", "$JS.API.STREAM.PURGE.AUDIT", "$JS.API.STREAM.MSG.DELETE.AUDIT", "$JS.API.STREAM.UPDATE.AUDIT"} {
		if !permissionDenied(t, nc, subj) {
			t.Errorf("operator may publish on %s", subj)
		}
	}
	s, err := r.admin.Stream(t.Context(), "AUDIT")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("audit stream has %d entries after the attack, want 1", n)
	}
	// Reading the trail (audit verify/export) is allowed.
	c, err := js.CreateConsumer(t.Context(), "AUDIT", jetstream.ConsumerConfig{Name: bus.OperatorConsumerPrefix + "audit_read", AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		t.Fatalf("operator reads the audit stream: %v", err)
	}
	if m, err := c.Next(jetstream.FetchMaxWait(2 * time.Second)); err != nil || !strings.Contains(string(m.Data()), `"seq":1`) {
		t.Errorf("operator reads the audit entry: %v", err)
	}
}

func TestOperatorConsumersIntegration(t *testing.T) {
	r := newSecureRig(t)
	nc, js := testenv.RoleConn(t, r.url, r.dataDir, bus.RoleOperator)
	ctx := t.Context()

	// Its own consumers: named, ordered, and a KV watch.
	name := bus.OperatorConsumerPrefix + "history_test"
	if _, err := js.CreateConsumer(ctx, bus.StreamAlarms, jetstream.ConsumerConfig{Name: name, AckPolicy: jetstream.AckNonePolicy}); err != nil {
		t.Fatalf("operator creates %s: %v", name, err)
	}
	if err := js.DeleteConsumer(ctx, bus.StreamAlarms, name); err != nil {
		t.Fatalf("operator deletes %s: %v", name, err)
	}
	oc, err := js.OrderedConsumer(ctx, bus.StreamAlarms, jetstream.OrderedConsumerConfig{NamePrefix: bus.OperatorConsumerPrefix + "feed"})
	if err != nil {
		t.Fatalf("operator ordered consumer: %v", err)
	}
	if _, err := oc.Info(ctx); err != nil {
		t.Errorf("operator ordered consumer info: %v", err)
	}
	kv, err := js.KeyValue(ctx, "LINEWATCH_ALARMS")
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatalf("operator KV watch: %v", err)
	}
	if e := <-w.Updates(); e == nil || e.Key() != "plant1.L1.press.reject" {
		t.Errorf("operator KV watch: first update %v", e)
	}
	w.Stop()

	// The notifier's consumer: every way of reaching it is refused.
	if err := js.DeleteConsumer(short(t), bus.StreamAlarms, bus.ConsumerNotify); !refused(nc, err, "CONSUMER.DELETE.ALARMS."+bus.ConsumerNotify) {
		t.Errorf("operator's delete of the notifier's consumer not refused: %v", err)
	}
	if _, err := js.CreateOrUpdateConsumer(short(t), bus.StreamAlarms, jetstream.ConsumerConfig{Durable: bus.ConsumerNotify,
		FilterSubject: "linewatch.alarms.nowhere", AckPolicy: jetstream.AckExplicitPolicy}); !refused(nc, err, "CONSUMER.CREATE.ALARMS."+bus.ConsumerNotify) {
		t.Errorf("operator's change of the notifier's consumer not refused: %v", err)
	}
	if _, err := js.Consumer(short(t), bus.StreamAlarms, bus.ConsumerNotify); !refused(nc, err, "CONSUMER.INFO.ALARMS."+bus.ConsumerNotify) {
		t.Errorf("operator's read of the notifier's consumer not refused: %v", err)
	}
	// Other routes to it (the legacy ephemeral create carries the name in
	// the body), other services' consumers, the streams themselves.
	for _, subj := range []string{
		"$JS.API.CONSUMER.CREATE." + bus.StreamAlarms,
		"$JS.API.CONSUMER.DURABLE.CREATE." + bus.StreamAlarms + "." + bus.ConsumerNotify,
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamAlarms + "." + bus.ConsumerNotify,
		"$JS.API.CONSUMER.PAUSE." + bus.StreamAlarms + "." + bus.ConsumerNotify,
		"$JS.API.CONSUMER.UNPIN." + bus.StreamAlarms + "." + bus.ConsumerNotify,
		"$JS.API.CONSUMER.LEADER.STEPDOWN." + bus.StreamAlarms + "." + bus.ConsumerNotify,
		"$JS.ACK." + bus.StreamAlarms + "." + bus.ConsumerNotify + ".1.1.1.1.0",
		"$JS.API.CONSUMER.LIST." + bus.StreamAlarms,
		"$JS.API.CONSUMER.CREATE." + bus.StreamTelemetry + ".x",
		"$JS.API.CONSUMER.DELETE.FINDINGS.alerts",
		"$JS.API.CONSUMER.DELETE.HEALTH.alerts-health",
		"$JS.API.STREAM.DELETE." + bus.StreamAlarms,
		"$JS.API.STREAM.PURGE." + bus.StreamAlarms,
		"$JS.API.STREAM.UPDATE." + bus.StreamAlarms,
	} {
		if !permissionDenied(t, nc, subj) {
			t.Errorf("operator may publish on %s", subj)
		}
	}
	if _, err := r.admin.Consumer(ctx, bus.StreamAlarms, bus.ConsumerNotify); err != nil {
		t.Errorf("notifier consumer after the attacks: %v", err)
	}
}

func TestRoleBoundariesIntegration(t *testing.T) {
	r := newSecureRig(t)
	conns := map[bus.Role]*nats.Conn{}
	for _, role := range bus.Roles {
		conns[role], _ = testenv.RoleConn(t, r.url, r.dataDir, role)
	}
	// Each role reports the system conditions of its own sources (and the
	// store's, as every role writes to InfluxDB), and no other: an operator
	// credential cannot raise or clear a system alarm, a collector cannot
	// clear the notifier's.
	health := func(source string) string { return "linewatch.health.plant1." + source + ".some_condition.L1.press" }
	mayReport := map[bus.Role][]string{
		bus.RoleCollector: {"collector", "store"},
		bus.RoleAnalytics: {"analytics", "store"},
		bus.RoleAlerts:    {"notify", "store"},
		bus.RoleOperator:  nil,
	}
	for role, own := range mayReport {
		for _, source := range []string{"collector", "store", "analytics", "notify", "other"} {
			want := slices.Contains(own, source)
			if got := !permissionDenied(t, conns[role], health(source)); got != want {
				t.Errorf("%s publishing a %s condition: allowed %v, want %v", role, source, got, want)
			}
		}
	}
	denied := map[bus.Role][]string{
		bus.RoleCollector: {"linewatch.alarms.plant1.L1.urgent", "linewatch.audit.entries", "$KV.LINEWATCH_ALARMS.x", "linewatch.cmd.alarms.ack", "$JS.API.STREAM.DELETE.TELEMETRY",
			"$JS.API.STREAM.MSG.GET.ALARMS", "$JS.API.STREAM.MSG.GET.KV_LINEWATCH_ALARMS", "$JS.API.STREAM.MSG.DELETE.TELEMETRY"},
		bus.RoleAnalytics: {"linewatch.alarms.plant1.L1.urgent", "linewatch.audit.entries", "$KV.LINEWATCH_ALARMS.x", "linewatch.telemetry.plant1.L1.press", "linewatch.cmd.alarms.ack"},
		bus.RoleAlerts:    {"linewatch.telemetry.plant1.L1.press", "$JS.API.STREAM.DELETE.AUDIT", "$JS.API.STREAM.PURGE.ALARMS"},
	}
	for role, subjects := range denied {
		for _, subj := range subjects {
			if !permissionDenied(t, conns[role], subj) {
				t.Errorf("%s may publish on %s", role, subj)
			}
		}
	}
	// Commands: the operator asks, alerts answers; nobody else listens in
	// (commands will carry login tokens).
	sub, err := conns[bus.RoleAlerts].QueueSubscribe("linewatch.cmd.>", "alerts", func(m *nats.Msg) { m.Respond([]byte(`{"ok":true}`)) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	conns[bus.RoleAlerts].Flush()
	for _, subj := range []string{"linewatch.cmd.alarms.ack", "linewatch.cmd.auth.login", "linewatch.cmd.reports.sign"} {
		if m, err := conns[bus.RoleOperator].Request(subj, []byte(`{}`), 2*time.Second); err != nil || string(m.Data) != `{"ok":true}` {
			t.Errorf("operator request on %s: %v", subj, err)
		}
	}
	for _, role := range []bus.Role{bus.RoleOperator, bus.RoleCollector, bus.RoleAnalytics} {
		nc := conns[role]
		if _, err := nc.Subscribe("linewatch.cmd.>", func(*nats.Msg) {}); err == nil {
			nc.Flush()
			if e := nc.LastError(); e == nil || !strings.Contains(e.Error(), "Permissions Violation for Subscription") {
				t.Errorf("%s may listen to commands (last error %v)", role, e)
			}
		}
	}
}

// TestCredentialFiles: the seeds are private files, kept across starts, and
// refused when other users can read them.
func TestCredentialFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats-auth")
	c1, err := bus.EnsureCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("%s mode %o, want 700", dir, fi.Mode().Perm())
	}
	for _, r := range bus.Roles {
		fi, err := os.Stat(bus.SeedFile(dir, r))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s seed: %v mode %v, want 600", r, err, fi)
		}
	}
	c2, err := bus.EnsureCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range bus.Roles {
		if c1.Public[r] == "" || c1.Public[r] != c2.Public[r] {
			t.Errorf("%s key changed on the second start: %s → %s", r, c1.Public[r], c2.Public[r])
		}
	}
	if c1.Public[bus.RoleOperator] == c1.Public[bus.RoleAdmin] {
		t.Error("roles share a key")
	}
	os.Chmod(bus.SeedFile(dir, bus.RoleAdmin), 0o644)
	if _, err := bus.EnsureCredentials(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable seed: err = %v", err)
	}
	if _, err := bus.ForRole(&config.Config{DataDir: filepath.Dir(dir)}, bus.RoleAdmin); err == nil {
		t.Error("ForRole accepted a group-readable seed")
	}
	if _, err := bus.ForRole(&config.Config{DataDir: t.TempDir()}, bus.RoleOperator); err == nil || !strings.Contains(err.Error(), "linewatch run") {
		t.Errorf("missing credential for the embedded server: err = %v", err)
	}
	n, err := bus.ForRole(&config.Config{DataDir: t.TempDir(), NATS: config.NATS{URL: "nats://nats.plant.example:4222"}}, bus.RoleOperator)
	if err != nil || n.NKeyFile != "" {
		t.Errorf("external server without credentials: %+v %v", n, err)
	}
	n, err = bus.ForRole(&config.Config{DataDir: filepath.Dir(dir), NATS: config.NATS{CredsFile: "/etc/linewatch/op.creds"}}, bus.RoleOperator)
	if err != nil || n.CredsFile != "/etc/linewatch/op.creds" || n.NKeyFile != "" {
		t.Errorf("explicit credentials must win: %+v %v", n, err)
	}
}

// TestPermissionsDocumented: docs/nats-security.md names every subject of
// every role's permission set.
func TestPermissionsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/nats-security.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range bus.Roles {
		p := bus.Permissions(r)
		if p == nil {
			continue
		}
		var subjects []string
		if p.Publish != nil {
			subjects = append(append(subjects, p.Publish.Allow...), p.Publish.Deny...)
		}
		if p.Subscribe != nil {
			subjects = append(append(subjects, p.Subscribe.Allow...), p.Subscribe.Deny...)
		}
		for _, s := range subjects {
			if !strings.Contains(string(doc), `"`+s+`"`) {
				t.Errorf("docs/nats-security.md does not list %s's %q", r, s)
			}
		}
	}
}

// TestEmbeddedNonLoopbackNeedsTLSIntegration: the embedded server refuses to
// serve the network in plain text, whatever the spelling of "everywhere";
// with TLS and the role keys it serves it, and a client needs both.
func TestEmbeddedNonLoopbackNeedsTLSIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	dir := t.TempDir()
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "nats.plant.example:0"} {
		s, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: listen, StoreDir: t.TempDir(), Credentials: creds})
		if err == nil {
			s.Shutdown()
			t.Errorf("listen %s without TLS: started", listen)
		} else if !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("listen %s: err = %v", listen, err)
		}
	}
	pki := newPKI(t)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pki.serverCert, KeyFile: pki.serverKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), Anonymous: true, TLS: tc}); err == nil {
		t.Error("network listen with TLS but without credentials: started")
	}
	s, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), Credentials: creds, TLS: tc})
	if err != nil {
		t.Fatalf("network listen with TLS and credentials: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	u, _ := neturl.Parse(s.ClientURL())
	url := "tls://127.0.0.1:" + u.Port()
	op, err := bus.ForRole(&config.Config{DataDir: dir}, bus.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, op, strings.Replace(url, "tls://", "nats://", 1)); err == nil {
		t.Error("plain-text client accepted")
	}
	if _, err := connect(t, config.NATS{TLS: config.TLS{Enabled: true, CAFile: pki.ca}}, url); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("TLS client without a key: err = %v", err)
	}
	op.TLS = config.TLS{Enabled: true, CAFile: pki.ca}
	if _, err := connect(t, op, url); err != nil {
		t.Errorf("operator over TLS: %v", err)
	}
}

// TestOperatorPushConsumerCannotFeedStreamsIntegration: a push consumer
// created by an operator with a stream's subject as its deliver subject
// delivers nothing (a stream's capture is not client interest), so it
// cannot copy alarm transitions into the audit trail or the alarm bucket.
func TestOperatorPushConsumerCannotFeedStreamsIntegration(t *testing.T) {
	r := newSecureRig(t)
	_, js := testenv.RoleConn(t, r.url, r.dataDir, bus.RoleOperator)
	var cons []jetstream.PushConsumer
	for i, deliver := range []string{"linewatch.audit.entries", "$KV.LINEWATCH_ALARMS.plant1.L1.press.reject"} {
		c, err := js.CreateOrUpdatePushConsumer(t.Context(), bus.StreamAlarms, jetstream.ConsumerConfig{
			Name: bus.OperatorConsumerName(), DeliverSubject: deliver, AckPolicy: jetstream.AckNonePolicy})
		if err != nil {
			t.Fatalf("push consumer %d: %v", i, err)
		}
		cons = append(cons, c)
	}
	_, ajs := testenv.RoleConn(t, r.url, r.dataDir, bus.RoleAlerts)
	for range 3 {
		if _, err := ajs.Publish(t.Context(), "linewatch.alarms.plant1.L1.urgent", []byte(`{"state":"acknowledged","by":"carol"}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cons {
		// The server counts a consumer's pending messages after the
		// stream's ack, not with it: poll (a real server) until the three
		// are counted, then nothing may have been delivered.
		var ci *jetstream.ConsumerInfo
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if ci, err = c.Info(t.Context()); err != nil {
				t.Fatal(err)
			}
			if ci.NumPending == 3 || time.Now().After(deadline) {
				break
			}
		}
		if ci.PushBound || ci.Delivered.Consumer != 0 || ci.NumPending != 3 {
			t.Errorf("consumer delivering to %s: bound %v, delivered %d, pending %d", ci.Config.DeliverSubject, ci.PushBound, ci.Delivered.Consumer, ci.NumPending)
		}
	}
	s, err := r.admin.Stream(t.Context(), "AUDIT")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("audit stream has %d entries, want 1", n)
	}
	if e, err := r.alarmsKV.Get(t.Context(), "plant1.L1.press.reject"); err != nil || e.Revision() != 1 {
		t.Errorf("alarm state changed: %v", err)
	}
}
