package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/bus"
)

func TestMain(m *testing.M) { Main(m) }

func TestInfluxWriteQuery(t *testing.T) {
	db := Influx(t)
	raw, err := db.Server.Query(context.Background(), db.Database, "SHOW MEASUREMENTS")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"results"`) {
		t.Fatalf("unexpected answer %s", raw)
	}
	// a second database on the same server is independent
	db2 := Influx(t)
	if db2.Database == db.Database || db2.URL != db.URL {
		t.Fatalf("databases %q %q urls %q %q", db.Database, db2.Database, db.URL, db2.URL)
	}
}

func TestNATSStreams(t *testing.T) {
	nc, js := NATSConn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := js.Publish(ctx, bus.TelemetrySubject("s", "l", "m"), []byte(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != bus.StreamTelemetry || ack.Sequence != 1 {
		t.Fatalf("ack %+v", ack)
	}
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}
}
