package store

import (
	"strings"

	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

func TestEncodeSampleLine(t *testing.T) {
	var lb lineBuilder
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ss := []sample.Sample{
		{Time: time.Date(2026, 1, 2, 3, 4, 5, 600700800, time.UTC), Site: "s1", Line: "l 1", Machine: "m,1", Tag: "temp", Unit: "°C", Value: 2.5, Status: 0x40000000, Batch: "B=7"},
		{Site: "s1", Line: "l1", Machine: "m1", Tag: "state", Text: `say "hi"`},
		{Time: now, Site: "s1", Line: "l1", Machine: "m1", Tag: "nan", Value: nanValue(), Status: 0x80000000},
		{Time: time.Date(2026, 1, 2, 3, 4, 5, 600700801, time.UTC), Site: "s1", Line: "l 1", Machine: "m,1", Tag: "temp", Unit: "°C", Value: -1e-300, Status: 0, Batch: "B=7"},
	}
	for i := range ss {
		if err := lb.sample(&ss[i], now); err != nil {
			t.Fatal(err)
		}
	}
	want := `telemetry,batch=B\=7,line=l\ 1,machine=m\,1,site=s1,tag_name=temp,unit=°C quality=1073741824i,value=2.5 1767323045600700800
telemetry,line=l1,machine=m1,site=s1,tag_name=state quality=0i,text="say \"hi\"" 1767323045000000000
telemetry,line=l1,machine=m1,site=s1,tag_name=nan quality=2147483648i,nonfinite="NaN" 1767323045000000000
telemetry,batch=B\=7,line=l\ 1,machine=m\,1,site=s1,tag_name=temp,unit=°C quality=0i,value=-1e-300 1767323045600700801
`
	if got := string(lb.buf); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A sample without a machine has no line-protocol form: an error and no partial line.
	bad := sample.Sample{Site: "s1", Line: "l1", Tag: "x", Value: 1}
	if err := lb.sample(&bad, now); err == nil {
		t.Fatal("empty machine tag accepted")
	}
	bad.Text = "text path"
	if err := lb.sample(&bad, now); err == nil {
		t.Fatal("empty machine tag accepted on the text path")
	}
	ok := sample.Sample{Time: now, Site: "s1", Line: "l1", Machine: "m1", Tag: "x", Value: 1}
	if err := lb.sample(&ok, now); err != nil {
		t.Fatalf("builder not reusable after an error: %v", err)
	}
	if got := string(lb.buf); got != want+"telemetry,line=l1,machine=m1,site=s1,tag_name=x quality=0i,value=1 1767323045000000000\n" {
		t.Fatalf("after error got\n%s", got)
	}
}

// FuzzSampleEncoding: the cached fast path writes exactly what the strict
// lineprotocol.Encoder writes, fails when it fails, and the result parses
// back to the sample.
func FuzzSampleEncoding(f *testing.F) {
	f.Add("plant-1", "line a", "m,1", "temp", "°C", "B=1", "", 2.5, uint32(0x40000000), int64(1767323045600700800))
	f.Add("s", "l", "m", "t", "", "", "", math.Inf(1), uint32(0), int64(-1))
	f.Add("s", "l", "", "t", "u", "b", "", 1.0, uint32(1), int64(0))
	f.Add("s", "l\n", "m", "t\\", "u ", "b\"", "", -0.0, uint32(0xffffffff), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, site, line, machine, tag, unit, batchID, text string, v float64, status uint32, ns int64) {
		s := sample.Sample{Time: time.Unix(0, ns), Site: site, Line: line, Machine: machine, Tag: tag, Unit: unit, Batch: batchID, Value: v, Status: status}
		now := time.Unix(0, 1)
		var lb lineBuilder
		fastErr := lb.sample(&s, now)
		fastErr2 := lb.sample(&s, now) // cached key
		var e lineprotocol.Encoder
		strictErr := appendSample(&e, &s, now)
		appendSample(&e, &s, now)
		if (fastErr == nil) != (strictErr == nil) || (fastErr == nil) != (fastErr2 == nil) {
			t.Fatalf("fast %v / %v, strict %v", fastErr, fastErr2, strictErr)
		}
		if string(lb.buf) != string(e.Bytes()) {
			t.Fatalf("fast  %q\nstrict %q", lb.buf, e.Bytes())
		}
		if fastErr != nil {
			return
		}
		dec := lineprotocol.NewDecoderWithBytes(lb.buf)
		if !dec.Next() {
			t.Fatal("no line")
		}
		m, err := dec.Measurement()
		if err != nil || string(m) != "telemetry" {
			t.Fatalf("measurement %q %v", m, err)
		}
		tags := map[string]string{}
		for {
			k, val, err := dec.NextTag()
			if err != nil {
				t.Fatalf("tag: %v in %q", err, lb.buf)
			}
			if k == nil {
				break
			}
			tags[string(k)] = string(val)
		}
		if tags["site"] != site || tags["line"] != line || tags["machine"] != machine || tags["tag_name"] != tag || tags["unit"] != unit || tags["batch"] != batchID {
			t.Fatalf("tags %v from %q", tags, lb.buf)
		}
		for {
			k, val, err := dec.NextField()
			if err != nil {
				t.Fatalf("field: %v in %q", err, lb.buf)
			}
			if k == nil {
				break
			}
			switch string(k) {
			case "quality":
				if val.IntV() != int64(status) {
					t.Fatalf("quality %v", val)
				}
			case "value":
				if val.FloatV() != v {
					t.Fatalf("value %v, want %v", val, v)
				}
			}
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil || ts.UnixNano() != ns {
			t.Fatalf("time %v %v, want %d", ts, err, ns)
		}
	})
}

// TestWriteReadBack writes samples (floats, status codes, strings, batch
// tag) and points of every measurement, gzip on, and reads them back exactly.
func TestWriteReadBack(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	w := startWriter(t, cfg, WriterOptions{})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	want := genSamples(start, 0, 2500)
	w.WriteSamples(want[:1200])
	w.WriteSamples(want[1200:])
	at := start.Add(time.Hour)
	w.WritePoint(AlarmRecord{Time: at, Site: "plant-1", Line: "line-a", Machine: "filler-01", TagName: "t1", Detector: "limits",
		Priority: "high", Event: "ack", AlarmID: "plant-1/line-a/filler-01/t1/limits", State: "acknowledged",
		Active: true, Value: 41.5, Limit: 40, Message: "fill weight high", By: "jdoe", Seq: 3}.Point())
	w.WritePoint(BatchRecord{Time: at, Site: "plant-1", Line: "line-a", Batch: "B-2026-001", Event: "start", Product: "P-10"}.Point())
	w.WritePoint(SPCRecord{Time: at, Site: "plant-1", Line: "line-a", Machine: "filler-01", TagName: "t1", Detector: "ewma",
		Stats: []Stat{{"ewma", 10.25}, {"ucl", 11}, {"lcl", 9.5}}}.Point())
	w.WritePoint(StatusRecord{Time: at, Site: "plant-1", Line: "line-a", Machine: "filler-01", Connected: true,
		Endpoint: "opc.tcp://filler-01:4840"}.Point())
	w.flush(t)

	if n := w.counter(t, "linewatch_store_lines_written_total"); n != 2504 {
		t.Errorf("lines written = %v, want 2504", n)
	}
	c := newClient(t, cfg, ClientOptions{ChunkSize: 333})
	var got []sample.Sample
	for s, err := range c.Samples(context.Background(), SampleQuery{Site: "plant-1", From: start, To: start.Add(time.Hour)}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	compareSamples(t, got, want)

	res, err := c.QueryInfluxQL(context.Background(), db.Database, `SELECT "by", "state", "value", "limit", "seq", "active", "priority", "event" FROM "alarms"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 1 || len(res.Series[0].Values) != 1 {
		t.Fatalf("alarms: %+v", res)
	}
	row := res.Series[0].Values[0]
	wantRow := []any{json.Number("1772355600000000000"), "jdoe", "acknowledged", json.Number("41.5"), json.Number("40"), json.Number("3"), json.Number("1"), "high", "ack"}
	if len(row) != len(wantRow) {
		t.Fatalf("alarm row %v", row)
	}
	for i := range row {
		if row[i] != wantRow[i] {
			t.Errorf("alarm column %s = %#v, want %#v", res.Series[0].Columns[i], row[i], wantRow[i])
		}
	}
	for _, q := range []struct {
		q    string
		want any
	}{
		{`SELECT "product" FROM "batches" WHERE "batch" = 'B-2026-001'`, "P-10"},
		{`SELECT "ewma" FROM "spc" WHERE "detector" = 'ewma' AND "tag_name" = 't1'`, json.Number("10.25")},
		{`SELECT "connected" FROM "collector_status" WHERE "machine" = 'filler-01'`, json.Number("1")},
		{`SELECT "endpoint" FROM "collector_status"`, "opc.tcp://filler-01:4840"},
	} {
		res, err := c.QueryInfluxQL(context.Background(), db.Database, q.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) != 1 || res.Series[0].Values[0][1] != q.want {
			t.Errorf("%s: %+v, want %v", q.q, res.Series, q.want)
		}
	}
}

func compareSamples(t *testing.T, got, want []sample.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read back %d samples, wrote %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func newClient(t testing.TB, cfg config.InfluxDB, opts ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func nanValue() float64 { return math.NaN() }

func TestEncodeRawControlCharacters(t *testing.T) {
	var e lineprotocol.Encoder
	now := time.Unix(0, 42).UTC()
	s := sample.Sample{Time: now, Site: "s", Line: "l", Machine: "m", Tag: "note", Text: "a\n\"b\"\t\\c"}
	if err := appendSample(&e, &s, now); err != nil {
		t.Fatal(err)
	}
	// NUL (and bytes that are not UTF-8): percent-encoded under text_pct.
	s.Text += "\x00\xff"
	if err := appendSample(&e, &s, now); err != nil {
		t.Fatal(err)
	}
	p := Point{Measurement: "alarms", Tags: []Tag{{"site", "s"}, {"line", "l"}}, Fields: []Field{{"message", "x\ny"}, {"n", 2}, {"reason", "r\r"}}, Time: now}
	if err := appendPoint(&e, &p, now); err != nil {
		t.Fatal(err)
	}
	want := "telemetry,line=l,machine=m,site=s,tag_name=note quality=0i,text=\"a\n\\\"b\\\"\t\\\\c\" 42\n" +
		"telemetry,line=l,machine=m,site=s,tag_name=note quality=0i,text_pct=\"a%0A\\\"b\\\"%09%5Cc%00%FF\" 42\n" +
		"alarms,line=l,site=s message=\"x\ny\",n=2i,reason=\"r\r\" 42\n"
	if got := string(e.Bytes()); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestBatchBySizeAndTime: BatchSize seals batches without waiting for the
// flush interval; the interval (injected clock) sends a partial batch.
func TestBatchBySizeAndTime(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	cfg.BatchSize = 10
	cfg.FlushInterval = 2 * time.Second
	clk := newFakeClock()
	w := startWriter(t, cfg, WriterOptions{Clock: clk})
	clk.waitTimer(t, func(d time.Duration) bool { return d == cfg.FlushInterval })
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	w.WriteSamples(genSamples(start, 0, 25))
	for range 2 {
		if r := w.nextResult(t); r.out != outOK || r.b.lines != 10 {
			t.Fatalf("size-triggered batch: %+v", r)
		}
	}
	if n := db.Count(t, "quality", "telemetry", ""); n != 20 {
		t.Fatalf("before the interval: %d points stored, want 20", n)
	}
	clk.Advance(cfg.FlushInterval)
	if r := w.nextResult(t); r.out != outOK || r.b.lines != 5 {
		t.Fatalf("interval-triggered batch: %+v", r)
	}
	if n := db.Count(t, "quality", "telemetry", ""); n != 25 {
		t.Fatalf("after the interval: %d points stored, want 25", n)
	}
	if n := w.counter(t, "linewatch_store_batch_latency_seconds"); n != 3 {
		t.Errorf("latency observations = %v, want 3", n)
	}
}

func TestNewWriterConfigErrors(t *testing.T) {
	base := testCfg(t, "http://127.0.0.1:8086", "plant")
	for _, tc := range []struct {
		name   string
		mutate func(*config.InfluxDB)
		want   string
	}{
		{"no url", func(c *config.InfluxDB) { c.URL = "" }, "influxdb.url is empty"},
		{"bad url", func(c *config.InfluxDB) { c.URL = "ftp://x" }, `influxdb.url "ftp://x"`},
		{"no database", func(c *config.InfluxDB) { c.Database = "" }, "set influxdb.database"},
		{"token env unset", func(c *config.InfluxDB) { c.TokenEnv = "LINEWATCH_STORE_TEST_UNSET" }, "LINEWATCH_STORE_TEST_UNSET is not set"},
		{"bad CA", func(c *config.InfluxDB) { c.TLS = config.TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"} }, "influxdb.tls.ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mutate(&cfg)
			_, err := NewWriter(cfg, WriterOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	w1, err := NewWriter(base, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w1.sp.Close()
	if _, err := NewWriter(base, WriterOptions{}); err == nil || !strings.Contains(err.Error(), "in use by another linewatch writer") {
		t.Fatalf("second Writer on one spool directory: %v", err)
	}
	mem := base
	mem.Spool.Dir = ""
	reg := prometheus.NewRegistry()
	if _, err := NewWriter(mem, WriterOptions{Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriter(mem, WriterOptions{Metrics: reg}); err == nil {
		t.Fatal("second Writer on one registry accepted")
	}
}
