package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// TestSamplesWindows reads a range in many small windows and checks that
// every sample comes back once, in time order, equal to what was written
// (with ValuesOnly: no unit, Batch the query's), with tag values that need
// escaping in InfluxDB's CSV tags column.
func TestSamplesWindows(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	w := startWriter(t, cfg, WriterOptions{})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	written := genSamples(start, 0, 3000) // 3 s at 1 ms, 5 tags, string tag included
	odd := make([]sample.Sample, 0, 40)
	for i := range 40 {
		odd = append(odd, sample.Sample{Time: start.Add(time.Duration(i) * 50 * time.Millisecond).UTC(),
			Site: "plant 2", Line: "line,b", Machine: "m=1 x", Tag: fmt.Sprintf("t=%d, y", i%2), Value: float64(i) / 4, Status: 0x80320000})
	}
	w.WriteSamples(written)
	w.WriteSamples(odd)
	w.flush(t)
	c := newClient(t, cfg, ClientOptions{ChunkSize: 97})
	ctx := context.Background()

	collect := func(q SampleQuery) []sample.Sample {
		t.Helper()
		var got []sample.Sample
		for s, err := range c.Samples(ctx, q) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		return got
	}

	want := make([]sample.Sample, len(written))
	for i, s := range written {
		s.Unit, s.Batch = "", ""
		want[i] = s
	}
	got := collect(SampleQuery{Site: "plant-1", Line: "line-a", From: start, To: start.Add(3 * time.Second),
		ValuesOnly: true, Window: 170 * time.Millisecond, Ahead: 3})
	compareSamples(t, got, want)
	// Units and batches read from the series.
	got = collect(SampleQuery{Site: "plant-1", Line: "line-a", From: start, To: start.Add(3 * time.Second), Window: 170 * time.Millisecond})
	compareSamples(t, got, written)

	// Years around the data: the empty windows are jumped, not queried one by one.
	got = collect(SampleQuery{Site: "plant-1", Line: "line-a", From: start.AddDate(-30, 0, 0), To: start.AddDate(1, 0, 0)})
	compareSamples(t, got, written)

	// Site and line open: read from the tags column, escapes undone.
	got = collect(SampleQuery{From: start, To: start.Add(2 * time.Second), Tags: []string{"t=1, y"}, Window: 333 * time.Millisecond})
	var wantOdd []sample.Sample
	for _, s := range odd {
		if s.Tag == "t=1, y" && s.Time.Before(start.Add(2*time.Second)) {
			wantOdd = append(wantOdd, s)
		}
	}
	compareSamples(t, got, wantOdd)

	// Batch filter: samples carry the query's batch.
	got = collect(SampleQuery{Site: "plant-1", Batch: "B-2026-001", Machine: "filler-01", From: start, To: start.Add(10 * time.Millisecond), ValuesOnly: true})
	if len(got) != 10 || got[0].Batch != "B-2026-001" || got[9].Time != written[9].Time {
		t.Errorf("batch query: %d samples, first %+v", len(got), got[0])
	}

	// Stopping early cancels the windows in flight (goleak in TestMain checks
	// that nothing is left running).
	n := 0
	for _, err := range c.Samples(ctx, SampleQuery{Site: "plant-1", From: start, To: start.Add(3 * time.Second), Window: 10 * time.Millisecond}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 25 {
			break
		}
	}

	for s, err := range c.Samples(ctx, SampleQuery{From: start, To: start}) {
		if err == nil || !strings.Contains(err.Error(), "is not before") {
			t.Errorf("empty range: %+v, %v; want an error", s, err)
		}
	}
}

// TestQueryEachChunks: a result larger than one chunk arrives in several
// calls and nothing is lost.
func TestQueryEachChunks(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	w := startWriter(t, cfg, WriterOptions{})
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range 250 {
		w.WritePoint(BatchRecord{Time: at.Add(time.Duration(i) * time.Second), Site: "s", Line: "l", Batch: fmt.Sprintf("B%d", i), Event: "start"}.Point())
	}
	w.flush(t)
	c := newClient(t, cfg, ClientOptions{ChunkSize: 100})
	calls, rows := 0, 0
	err := c.QueryEach(context.Background(), c.Database(), `SELECT "batch" FROM "batches" WHERE "site" = 's'`, func(s Series) error {
		calls++
		for _, r := range s.Values {
			if r[1] != fmt.Sprintf("B%d", rows) {
				return fmt.Errorf("row %d = %v", rows, r)
			}
			if _, ok := r[0].(json.Number); !ok {
				return fmt.Errorf("time %#v is not a json.Number", r[0])
			}
			rows++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 250 || calls != 3 {
		t.Errorf("%d rows in %d calls, want 250 in 3", rows, calls)
	}
	err = c.QueryEach(context.Background(), c.Database(), `SELECT nope FROM`, func(Series) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "SELECT nope") {
		t.Errorf("bad statement: err = %v, want one naming the statement", err)
	}
}

// escapeTag escapes as InfluxDB's series hash key (models.escapeTag).
func escapeTag(s string) string {
	return strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `).Replace(s)
}

func TestParseTagsColumn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"machine=m0,tag_name=t0", map[string]string{"machine": "m0", "tag_name": "t0"}},
		{`line=line\,b,machine=m\=1\ x,site=plant\ 2,tag_name=t\=0\,\ y`, map[string]string{"line": "line,b", "machine": "m=1 x", "site": "plant 2", "tag_name": "t=0, y"}},
		{"machine=,tag_name=t", map[string]string{"machine": "", "tag_name": "t"}},
	} {
		got, err := parseTagsColumn(tc.in)
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("parseTagsColumn(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"machine", "a=b,c"} {
		if _, err := parseTagsColumn(bad); err == nil {
			t.Errorf("parseTagsColumn(%q): no error", bad)
		}
	}
}

// FuzzParseTagsColumn: any input parses or fails without panicking, and
// two tags escaped as InfluxDB does come back unchanged.
func FuzzParseTagsColumn(f *testing.F) {
	f.Add("machine", "m0", "tag_name", "t0")
	f.Add("line", "a,b", "site", "x=y z")
	f.Add("k", "", "k2", `\`)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		raw := k1 + "=" + v1 + "," + k2 + "=" + v2
		parseTagsColumn(raw) // must not panic
		// A backslash is not escaped by InfluxDB, so "\," is ambiguous;
		// keys are non-empty and distinct in a real series key.
		if k1 == "" || k2 == "" || k1 == k2 || strings.Contains(raw, `\`) {
			return
		}
		got, err := parseTagsColumn(escapeTag(k1) + "=" + escapeTag(v1) + "," + escapeTag(k2) + "=" + escapeTag(v2))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{k1: v1, k2: v2}; !maps.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}
