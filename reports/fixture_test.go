package reports

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

const fixtureConfig = `site: plant1
lines:
  - id: fill1
    name: Filling line 1
    batch_tag: checkweigher/batch_id
    machines:
      - id: coldroom
        endpoint: opc.tcp://127.0.0.1:4840
        poll_groups:
          - {name: climate, interval: 10s, tags: [temp]}
        tags:
          - {name: temp, node_id: "ns=2;s=temp", unit: °C, role: temperature, critical: true,
             limits: {lo: 2, hi: 8}, spec: {lsl: 2, usl: 8, target: 5}}
      - id: checkweigher
        endpoint: opc.tcp://127.0.0.1:4840
        poll_groups:
          - {name: counters, interval: 10s, tags: [good_count, reject_count]}
        tags:
          - {name: good_count, node_id: "ns=2;s=good", unit: count, role: good_count}
          - {name: reject_count, node_id: "ns=2;s=reject", unit: count, role: reject_count}
          - {name: batch_id, node_id: "ns=2;s=batch", role: batch_id}
analytics:
  rules:
    - name: limits
      tags: [fill1/coldroom/temp]
      limits: {}
    - name: cold chain
      tags: [fill1/coldroom/temp]
      mkt: {window: 24h, limit: 8}
      tor: {low: 2, high: 8, budget: 2h}
    - name: rejects
      tags: [fill1/checkweigher/reject_count]
      p_chart: {good_tag: good_count, reject_tag: reject_count, subgroup: 10m, p_bar: 0.01}
      yield: {good_tag: good_count, reject_tag: reject_count, min: 0.98}
reports:
  storage_locations:
    - {id: coldroom1, name: 2–8 °C cold room, tags: [fill1/coldroom/temp], lines: [fill1]}
`

// fixture is a one-hour-and-a-half batch with a 12-minute excursion, a
// data gap, bad-quality readings, an acknowledged alarm and audit entries,
// written to a real InfluxDB and a real embedded NATS server.
type fixture struct {
	cfg      *config.Config
	db       testenv.InfluxDB
	src      *Influx
	js       jetstream.JetStream
	audit    *auditLogT
	batch    BatchRecord
	t0       time.Time
	temps    []tempReading // the good temperature readings, in order
	key      ed25519.PrivateKey
	pub      ed25519.PublicKey
	dir      string
	excStart time.Time
	excEnd   time.Time
}

type tempReading struct {
	t time.Time
	v float64
}

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

func writeConfig(t testing.TB, dir, text string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "linewatch.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// writeLP posts line protocol to the test database.
func writeLP(t testing.TB, db testenv.InfluxDB, lp []byte) {
	t.Helper()
	resp, err := http.Post(db.URL+"/write?precision=ns&db="+db.Database, "text/plain", bytes.NewReader(lp))
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("write: %s: %s", resp.Status, b.String())
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), t0: t0}
	// Registered first, so it runs last: close the keep-alive connections
	// of this test (and of the database drop) so none outlives the binary.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	f.cfg = writeConfig(t, f.dir, fixtureConfig)
	f.db = testenv.Influx(t)
	f.src = &Influx{URL: f.db.URL, Database: f.db.Database}
	end := t0.Add(90 * time.Minute)
	f.batch = BatchRecord{ID: "B-2026-0042", Site: "plant1", Line: "fill1", Product: "Vaccine X 10 mL", Start: t0, End: end}
	f.excStart, f.excEnd = t0.Add(30*time.Minute), t0.Add(42*time.Minute)

	var lp bytes.Buffer
	fmt.Fprintf(&lp, "batches,line=fill1,site=plant1 batch=\"%s\",event=\"start\",product=\"%s\" %d\n", f.batch.ID, f.batch.Product, t0.UnixNano())
	fmt.Fprintf(&lp, "batches,line=fill1,site=plant1 batch=\"%s\",event=\"end\",product=\"%s\" %d\n", f.batch.ID, f.batch.Product, end.UnixNano())
	// an earlier batch and another line, which must not mix in
	fmt.Fprintf(&lp, "batches,line=fill1,site=plant1 batch=\"B-2026-0041\",event=\"start\",product=\"%s\" %d\n", f.batch.Product, t0.Add(-5*time.Hour).UnixNano())
	fmt.Fprintf(&lp, "batches,line=fill1,site=plant1 batch=\"B-2026-0041\",event=\"end\",product=\"%s\" %d\n", f.batch.Product, t0.Add(-3*time.Hour).UnixNano())
	fmt.Fprintf(&lp, "batches,line=pack2,site=plant1 batch=\"P-7\",event=\"start\",product=\"Y\" %d\n", t0.UnixNano())

	good, rej := 1000.0, 3.0
	for i := 0; ; i++ {
		ts := t0.Add(time.Duration(i) * 10 * time.Second)
		if ts.After(end) {
			break
		}
		// temperature: 5 °C ± 0.3, an excursion to 9.5–10.1 °C from 30 to 42
		// min, no data from 60 to 62 min, bad quality at 70 min.
		v := 5 + 0.3*math.Sin(float64(i)/7)
		if !ts.Before(f.excStart) && ts.Before(f.excEnd) {
			v = 9.5 + 0.6*math.Sin(float64(i)/5)*math.Sin(float64(i)/5)
		}
		gap := !ts.Before(t0.Add(60*time.Minute)) && ts.Before(t0.Add(62*time.Minute))
		if !gap {
			q := 0
			if ts.Equal(t0.Add(70*time.Minute)) || ts.Equal(t0.Add(70*time.Minute+10*time.Second)) {
				q = 0x80000000 // Bad
				fmt.Fprintf(&lp, "telemetry,batch=%s,line=fill1,machine=coldroom,site=plant1,tag_name=temp,unit=°C quality=%di,value=%g %d\n", f.batch.ID, q, -99.0, ts.UnixNano())
			} else {
				fmt.Fprintf(&lp, "telemetry,batch=%s,line=fill1,machine=coldroom,site=plant1,tag_name=temp,unit=°C quality=0i,value=%s %d\n", f.batch.ID, fmtLP(v), ts.UnixNano())
				f.temps = append(f.temps, tempReading{ts, v})
			}
		}
		good += 100
		if i%10 == 0 {
			rej++
		}
		fmt.Fprintf(&lp, "telemetry,batch=%s,line=fill1,machine=checkweigher,site=plant1,tag_name=good_count,unit=count quality=0i,value=%g %d\n", f.batch.ID, good, ts.UnixNano())
		fmt.Fprintf(&lp, "telemetry,batch=%s,line=fill1,machine=checkweigher,site=plant1,tag_name=reject_count,unit=count quality=0i,value=%g %d\n", f.batch.ID, rej, ts.UnixNano())
		// another line at the same time: not part of the report
		fmt.Fprintf(&lp, "telemetry,line=pack2,machine=m,site=plant1,tag_name=temp quality=0i,value=50 %d\n", ts.UnixNano())
	}
	writeLP(t, f.db, lp.Bytes())

	_, js := testenv.NATSConn(t)
	f.js = js
	f.publishAlarms(t)
	f.audit = openAudit(t, js)
	ctx := context.Background()
	for _, e := range []struct {
		at             time.Time
		actor, action  string
		object, reason string
	}{
		{t0.Add(-time.Hour), "carol", "config.loaded", "linewatch.yaml", ""},
		{t0.Add(31 * time.Minute), "alice", "alarm.ack", "plant1/fill1/coldroom/temp/limits/hi", "probe checked, product moved to backup room"},
		{t0.Add(50 * time.Minute), "carol", "alarm.comment", "plant1/fill1/coldroom/temp/limits/hi", "door seal replaced"},
	} {
		if _, err := f.audit.Append(ctx, auditEntry(e.at, e.actor, e.action, e.object, e.reason)); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	f.pub, f.key, err = ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fmtLP prints a float exactly (line protocol accepts Go's 'g' form).
func fmtLP(v float64) string { return strings.Replace(fmt.Sprintf("%v", v), "e+", "e", 1) }

func (f *fixture) publishAlarms(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	id := "plant1/fill1/coldroom/temp/limits/hi"
	base := alerts.Alarm{ID: id, Site: "plant1", Line: "fill1", Machine: "coldroom", Tag: "temp", Detector: "limits", Rule: "hi",
		Priority: alerts.Urgent, Message: "temp hi alarm started: 9.6 above hi limit 8", Limit: 8}
	trs := []alerts.Transition{
		{Seq: 1, Time: f.excStart.Add(10 * time.Second), Event: alerts.EvActivate, From: alerts.Normal, To: alerts.Unacknowledged},
		{Seq: 2, Time: t0.Add(31 * time.Minute), Event: alerts.EvAck, From: alerts.Unacknowledged, To: alerts.Acknowledged, By: "alice", Reason: "probe checked, product moved to backup room"},
		{Seq: 3, Time: f.excEnd, Event: alerts.EvClear, From: alerts.Acknowledged, To: alerts.Normal},
	}
	for _, tr := range trs {
		tr.V, tr.ID, tr.Alarm = alerts.SchemaVersion, alerts.TransitionID(id, tr.Seq), base
		tr.Alarm.State = tr.To
		if tr.By != "" {
			tr.Alarm.AckedBy, tr.Alarm.AckedAt = tr.By, tr.Time
		}
		b, _ := json.Marshal(tr)
		if _, err := f.js.Publish(ctx, bus.AlarmSubject("plant1", "fill1", "urgent"), b, jetstream.WithMsgID(tr.ID)); err != nil {
			t.Fatal(err)
		}
	}
	// an alarm of another line and one long before the batch
	other := alerts.Transition{V: 1, ID: "x#1", Seq: 1, Time: f.excStart, Event: alerts.EvActivate, Alarm: alerts.Alarm{ID: "plant1/pack2/m/temp/limits/hi", Line: "pack2"}}
	b, _ := json.Marshal(other)
	if _, err := f.js.Publish(ctx, bus.AlarmSubject("plant1", "pack2", "high"), b); err != nil {
		t.Fatal(err)
	}
}

// independentMKT is USP <1079> MKT written out here, not with detect:
// each good reading weighted by the time to the next (capped at 15 min).
func independentMKT(rs []tempReading) float64 {
	const dhr = 10000.0
	var sw, sd float64
	for i := 0; i+1 < len(rs); i++ {
		dt := rs[i+1].t.Sub(rs[i].t)
		if dt > 15*time.Minute {
			dt = 15 * time.Minute
		}
		sw += math.Exp(-dhr/(rs[i].v+273.15)) * dt.Seconds()
		sd += dt.Seconds()
	}
	return dhr/(-math.Log(sw/sd)) - 273.15
}

func ed25519GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(nil)
}
