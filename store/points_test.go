package store

import (
	"math"
	"testing"
	"time"
)

// TestRecordLineProtocol pins the exact line protocol of every record. The
// expected lines are what internal/app's sinks wrote before the records
// existed (byte for byte), and what dashboards/ and reports/ query: a
// change here is a schema change and needs those queries changed too.
func TestRecordLineProtocol(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 123, time.UTC) // 1772352000000000123
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)  // 1772355600000000000
	for _, tc := range []struct {
		name string
		p    Point
		want string
	}{
		{"alarm by an operator",
			AlarmRecord{Time: at, Site: "plant-1", Line: "line-a", Machine: "filler-01", TagName: "fill_weight",
				Detector: "limits", Priority: "high", Event: "ack", AlarmID: "plant-1/line-a/filler-01/fill_weight/limits",
				State: "acknowledged", Active: true, Value: 41.5, Limit: 40, Message: `fill weight 41.5 g > 40 g, "hi"`,
				By: "jdoe", Reason: "checked\nscale", Seq: 7}.Point(),
			`alarms,detector=limits,event=ack,line=line-a,machine=filler-01,priority=high,site=plant-1,tag_name=fill_weight ` +
				`alarm_id="plant-1/line-a/filler-01/fill_weight/limits",state="acknowledged",active=1i,value=41.5,limit=40,` +
				`message="fill weight 41.5 g > 40 g, \"hi\"",by="jdoe",reason="checked` + "\n" + `scale",seq=7i 1772352000000000123` + "\n"},
		{"alarm raised by analytics: empty strings kept",
			AlarmRecord{Time: at, Site: "s", Line: "l", Machine: "m", TagName: "t", Detector: "ewma", Priority: "low",
				Event: "activate", AlarmID: "s/l/m/t/ewma", State: "unacknowledged", Value: -0.25, Limit: 1e-3, Seq: 1}.Point(),
			`alarms,detector=ewma,event=activate,line=l,machine=m,priority=low,site=s,tag_name=t ` +
				`alarm_id="s/l/m/t/ewma",state="unacknowledged",active=0i,value=-0.25,limit=0.001,message="",by="",reason="",seq=1i 1772352000000000123` + "\n"},
		{"batch start, escaped tags",
			BatchRecord{Time: at, Site: "plant 1", Line: "fill,1", Batch: "B=42", Event: "start", Product: "Vaccine X 10 mL"}.Point(),
			`batches,line=fill\,1,site=plant\ 1 batch="B=42",event="start",product="Vaccine X 10 mL" 1772352000000000123` + "\n"},
		{"batch end is 1 ns earlier",
			BatchRecord{Time: at, Site: "s", Line: "l", Batch: "B-1", Event: "end"}.Point(),
			`batches,line=l,site=s batch="B-1",event="end",product="" 1772352000000000122` + "\n"},
		{"batch without time gets the writer's clock",
			BatchRecord{Site: "s", Line: "l", Batch: "B-1", Event: "end"}.Point(),
			`batches,line=l,site=s batch="B-1",event="end",product="" 1772355600000000000` + "\n"},
		{"spc keeps stat order, drops NaN",
			SPCRecord{Time: at, Site: "s", Line: "l", Machine: "m", TagName: "t", Detector: "nelson",
				Stats: []Stat{{"cl", 100}, {"ucl", 103.5}, {"lcl", math.NaN()}, {"sigma", 1.1666666666666667}}}.Point(),
			`spc,detector=nelson,line=l,machine=m,site=s,tag_name=t cl=100,ucl=103.5,sigma=1.1666666666666667 1772352000000000123` + "\n"},
		{"status connected",
			StatusRecord{Time: at, Site: "s", Line: "l", Machine: "m", Connected: true, Endpoint: "opc.tcp://10.0.0.5:4840"}.Point(),
			`collector_status,line=l,machine=m,site=s connected=1i,reason="",endpoint="opc.tcp://10.0.0.5:4840" 1772352000000000123` + "\n"},
		{"status disconnected",
			StatusRecord{Time: at, Site: "s", Line: "l", Machine: "m", Reason: "BadCertificateUntrusted", Endpoint: "opc.tcp://m:4840"}.Point(),
			`collector_status,line=l,machine=m,site=s connected=0i,reason="BadCertificateUntrusted",endpoint="opc.tcp://m:4840" 1772352000000000123` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lb lineBuilder
			if err := lb.point(&tc.p, now); err != nil {
				t.Fatal(err)
			}
			if got := string(lb.buf); got != tc.want {
				t.Errorf("line protocol\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRecordErrors: a record that cannot be stored is refused with its
// measurement named, not written half.
func TestRecordErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Point
	}{
		{"spc without stats", SPCRecord{Site: "s", Line: "l", Machine: "m", TagName: "t", Detector: "ewma"}.Point()},
		{"spc with only NaN", SPCRecord{Site: "s", Line: "l", Machine: "m", TagName: "t", Detector: "ewma", Stats: []Stat{{"ewma", math.Inf(1)}}}.Point()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lb lineBuilder
			err := lb.point(&tc.p, time.Unix(0, 0))
			if err == nil || len(lb.buf) != 0 {
				t.Fatalf("err = %v, buf %q: want an error and nothing written", err, lb.buf)
			}
		})
	}
}

// A field that fails after others were added drops the whole line: ending
// it would leave a line without a timestamp, which InfluxDB would stamp
// with its arrival time.
func TestPointFieldErrorLeavesNoPartialLine(t *testing.T) {
	var lb lineBuilder
	ok := Point{Measurement: "spc", Tags: []Tag{{"site", "s"}}, Fields: []Field{{"ucl", 1.5}}, Time: time.Unix(10, 0)}
	bad := Point{Measurement: "spc", Tags: []Tag{{"site", "s"}}, Fields: []Field{{"a", 1.0}, {"b", uint64(math.MaxUint64)}}, Time: time.Unix(20, 0)}
	if err := lb.point(&ok, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := lb.point(&bad, time.Unix(0, 0)); err == nil {
		t.Fatal("uint64 above MaxInt64 accepted")
	}
	if err := lb.point(&ok, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	want := "spc,site=s ucl=1.5 10000000000\nspc,site=s ucl=1.5 10000000000\n"
	if got := string(lb.buf); got != want {
		t.Fatalf("buffer %q, want %q", got, want)
	}
}
