package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
)

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(c.AllTags()) == 0 {
				t.Fatal("no tags loaded")
			}
		})
	}
}

// Every bad fixture lists all of its expected errors, in order, as
// "line:col path: message fragment".
func TestBadConfigs(t *testing.T) {
	tests := map[string][]string{
		"five-mistakes.yaml": {
			`1:7 site: invalid id`,
			`4:3 influxdb.batch_sise: unknown key "batch_sise"; did you mean "batch_size"?`,
			`10:26 lines[0].machines[0].security_policy: did you mean "Basic256Sha256"?`,
			`15:11 lines[0].machines[0].auth.password: inline secrets are not allowed: reference it with password_env`,
			`18:22 lines[0].machines[0].tags[0].node_id: invalid node id: identifier must start with i=, s=, g= or b=`,
			`23:19 lines[0].machines[0].tags[1].role: allowed: temperature`,
			`26:23 lines[0].machines[0].poll_groups[0].interval: not a duration`,
		},
		"detectors.yaml": {
			`13:22 analytics.rules[0].stale.after: must be at least 1s`,
			`16:7 analytics.rules[1].cpk: tag filling1/filler/fill_weight has no spec limits`,
			`16:22 analytics.rules[1].cpk.min_cpk: must be ≥ 0`,
			`16:39 analytics.rules[1].cpk.min_samples: must be ≥ 2`,
			`19:7 analytics.rules[2].mkt: tag filling1/filler/fill_weight: unit "g" is not a temperature (°C, °F or K)`,
			`20:14 analytics.lag_alarm: must be at least 1s`,
			`21:36 collector.comm_loss_alarm_delay: must be at least 0s`,
		},
		"leases.yaml": {
			`10:14 analytics.lease_ttl: must be 1s to 1m`,
			`11:16 analytics.lease_renew: must be more than 0 and at most half of analytics.lease_ttl (500ms)`,
		},
		// detectors come from the registry (detect.Rule): strict keys, and
		// their own checks still name file:line:col, field and value
		"registry.yaml": {
			`14:14 analytics.rules[0].ewma.lamda: unknown key "lamda"; did you mean "lambda"?`,
			`14:26 analytics.rules[0].ewma.baseline: give mean and sigma together`,
			`15:26 analytics.rules[0].shewhart.preset: allowed: nelson, western_electric (got "western")`,
			`15:64 analytics.rules[0].shewhart.baseline.sigma: must be > 0 (got "-1")`,
			`16:7 analytics.rules[0].cusm: unknown key "cusm"; did you mean "cusum"?`,
			`19:7 analytics.rules[1].p_chart: machine filling1/filler has no tag "reject_count"`,
			`19:72 analytics.rules[1].p_chart.p_bar: must be in [0, 1) (0 = estimate from the baseline) (got "1.5")`,
			`20:30 analytics.rules[1].page_hinkley.lambda: must be > 0`,
			`20:40 analytics.rules[1].page_hinkley.alpha: must be in [0, 1]`,
		},
		"batch-models.yaml": {
			`12:7 analytics.batch_models[0].file: required: the model file written by ` + "`linewatch analytics train-batch`",
			`14:38 analytics.batch_models[0].tags[1]: no such machine/tag in line "lyo1"`,
			`14:61 analytics.batch_models[0].tags[2]: is the phase tag: monitor numeric tags, the phase aligns them`,
			`14:80 analytics.batch_models[0].tags[3]: listed twice`,
			`18:13 analytics.batch_models[1].line: no such line`,
			`20:7 analytics.batch_models[2].phase_tag: required: machine/tag of the tag naming the running phase (role phase)`,
		},
		"nats-embedded-user.yaml":   {`3:9 nats.user: the embedded server (nats.url empty) accepts only the role credentials`},
		"nats-listen-any-ipv4.yaml": {`4:13 nats.embedded.listen: not a loopback address`},
		"nats-listen-any-host.yaml": {`4:13 nats.embedded.listen: not a loopback address`},
		"nats-listen-any-ipv6.yaml": {`4:13 nats.embedded.listen: not a loopback address`},
		"nats-listen-lan-ip.yaml":   {`4:13 nats.embedded.listen: not a loopback address`},
		"nats-listen-hostname.yaml": {`4:13 nats.embedded.listen: not a loopback address`},
		"nats-spool.yaml": {
			`3:17 nats.max_inflight: must be 1–65536 (telemetry publishes awaiting their acknowledgement) (got "70000")`,
			`4:20 nats.spool_memory_mb: must be 1–1048576 (MB of telemetry held in memory while JetStream does not take it) (got "-5")`,
		},
		"signatures.yaml": {
			`11:27 reports.signatures.review[1]: a role is 1 to 32`,
			`12:5 reports.signatures.approval: list at least one role`,
			`13:5 reports.signatures.aproval: unknown key "aproval"; did you mean "approval"?`,
			`15:24 audit.checkpoint_interval: must be 1s to 24h`,
			`16:18 audit.trusted_keys[0]: empty path`,
		},
		"storage.yaml": {
			`11:24 reports.signatures.required[1]: did you mean "approval"?`,
			`13:30 reports.storage_locations[0].tags[0]: matches no tag of the config`,
			`13:59 reports.storage_locations[0].lines[0]: no such line; did you mean "filling1"?`,
			`13:75 reports.storage_locations[0].hold: must be ≥ 0`,
			`14:12 reports.storage_locations[1].id: duplicate storage location id`,
			`14:23 reports.storage_locations[1].tags: list the location's temperature probes`,
		},
		"time-zone.yaml": {
			`2:12 time_zone: must be an IANA time zone name such as UTC or Europe/Dublin`,
		},
		"structure.yaml": {
			`3:8 nats.url: expected nats://host:port`,
			`4:13 nats.replicas: must be 1–5`,
			`7:16 lines[0].batch_tag: must name a tag of this line`,
			`10:19 lines[0].machines[0].endpoint: expected opc.tcp://host:port[/path]`,
			`12:24 lines[0].machines[0].security_mode: security_policy Basic256Sha256 and security_mode None do not go together`,
			`16:36 lines[0].machines[0].tags[0].limits.hi: must be ≥ lo (2.04)`,
			`17:36 lines[0].machines[0].tags[0].spec.usl: must be greater than lsl (2.05)`,
			`19:23 lines[0].machines[0].poll_groups[0].interval: must be at least 10ms`,
			`20:20 lines[0].machines[0].poll_groups[0].tags[0]: no such tag in machine "filler"; did you mean "fill_weight"?`,
			`21:9 lines[1].id: duplicate line id`,
			`22:5 lines[1].machines: at least one machine required`,
			`25:14 analytics.rules[0].tags[0]: matches no configured tag`,
			`26:22 analytics.rules[0].ewma.lambda: must be in (0, 1]`,
			`26:39 analytics.rules[0].ewma.hysteresis: must be in [0, 1)`,
			`26:65 analytics.rules[0].ewma.autocorrelation[1]: must be in [-1, 1]`,
			`28:21 alarms.default_priority: allowed: low, medium, high, urgent`,
			`30:7 alarms.routes[0]: a route needs a webhook or an email receiver`,
			`30:15 alarms.routes[0].lines[0]: no such line; did you mean "filling1"?`,
			`32:20 influxdb.memory_limit_mb: must be 1–1048576`,
		},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata/bad", name)
			_, err := Load(path)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load: want Errors, got %v", err)
			}
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()
			}
			if len(got) != len(want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
			for i, w := range want {
				pos, rest, _ := strings.Cut(w, " ")
				prefix := path + ":" + pos + ": " + rest
				if !strings.HasPrefix(got[i], prefix) {
					t.Errorf("error %d:\n got %s\nwant prefix %s", i, got[i], prefix)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(`
lines:
  - id: l1
    machines:
      - id: m1
        endpoint: opc.tcp://127.0.0.1:4840
        tags:
          - {name: t1, node_id: "ns=2;s=a"}
          - {name: t2, node_id: "nsu=urn:x;i=5"}
`), "mem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := c.Lines[0].Machines[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"site", c.Site, DefaultSite},
		{"influx database", c.InfluxDB.Database, DefaultInfluxDatabase},
		{"spool dir", c.InfluxDB.Spool.Dir, filepath.Join(DefaultDataDir, "spool")},
		{"memory limit", c.InfluxDB.MemoryLimitMB, int64(DefaultMemoryLimitMB)},
		{"NATS spool", c.NATS.SpoolMemoryMB, DefaultNATSSpoolMemoryMB},
		{"NATS in flight", c.NATS.MaxInflight, DefaultMaxInflight},
		{"security policy", m.SecurityPolicy, "None"},
		{"auth", m.Auth.Type, "anonymous"},
		{"implicit poll group interval", m.PollGroups[0].Interval, time.Second},
		{"implicit poll group tags", strings.Join(m.PollGroups[0].Tags, ","), "t1,t2"},
		{"shelve max", c.Alarms.ShelveMax, 8 * time.Hour},
		{"suppress", strings.Join(c.Alarms.SuppressWhenState, ","), "stopped,cip"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestSecretResolve(t *testing.T) {
	t.Setenv("LW_TEST_SECRET", "s3cret")
	if v, err := (Secret{Env: "LW_TEST_SECRET"}).Resolve(); err != nil || v != "s3cret" {
		t.Fatalf("env: %q %v", v, err)
	}
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("from-file\n"), 0o600)
	if v, err := (Secret{File: f}).Resolve(); err != nil || v != "from-file" {
		t.Fatalf("file: %q %v", v, err)
	}
	if _, err := (Secret{Env: "LW_TEST_UNSET_VAR"}).Resolve(); err == nil || !strings.Contains(err.Error(), "LW_TEST_UNSET_VAR") {
		t.Fatalf("unset env: %v", err)
	}
}

func TestCheckNodeID(t *testing.T) {
	for id, ok := range map[string]bool{
		"ns=2;s=Line1.Filler.Weight": true, "ns=3;i=1001": true, "i=85": true,
		"nsu=urn:plant;s=Temp": true, "ns=2;g=5ce9dbce-5d79-434c-9ac3-1cfba9a6e92c": true, "ns=1;b=YWJj": true,
		"ns=2;x=foo": false, "ns=2": false, "ns=abc;s=x": false, "nsu=;s=x": false, " ns=2;s=x": false, "ns=2;i=notanumber": false,
	} {
		if err := CheckNodeID(id); (err == nil) != ok {
			t.Errorf("CheckNodeID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/good/*.yaml", "testdata/bad/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
	}
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("lines: [{machines: [{tags: [{limits: {lo: x}}]}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		var errs Errors
		if err != nil && !errors.As(err, &errs) {
			return
		}
		for _, e := range errs {
			if e.Msg == "" {
				t.Fatalf("error without message: %+v", e)
			}
		}
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}

// An EWMA rule without hysteresis gets the default; a written 0 means none.
func TestEWMAHysteresisDefault(t *testing.T) {
	data, err := os.ReadFile("testdata/good/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const rule = "ewma: {lambda: 0.05, l: 3.8,"
	if !bytes.Contains(data, []byte(rule)) {
		t.Fatalf("demo.yaml no longer has %q", rule)
	}
	for _, c := range []struct {
		yaml string
		want float64
	}{
		{string(data), detect.DefaultEWMAHysteresis},
		{strings.Replace(string(data), rule, "ewma: {hysteresis: 0, lambda: 0.05, l: 3.8,", 1), 0},
	} {
		cfg, err := Parse([]byte(c.yaml), "demo.yaml")
		if err != nil {
			t.Fatal(err)
		}
		got := math.NaN()
		for _, r := range cfg.Analytics.Rules {
			if r.EWMA != nil && r.EWMA.L == 3.8 {
				got = r.EWMA.Hysteresis
			}
		}
		if got != c.want {
			t.Errorf("hysteresis = %g, want %g", got, c.want)
		}
	}
}

// NamedLimits lists only what is configured, alarm limits first.
func TestTagNamedLimits(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tag := Tag{Limits: Limits{Lo: f(1.9), HiHi: f(2.2)}, Spec: Spec{USL: f(2.1), Target: f(2)}}
	got := fmt.Sprint(tag.NamedLimits())
	if want := "[{Lo 1.9} {HiHi 2.2} {USL 2.1} {Target 2}]"; got != want {
		t.Errorf("NamedLimits = %s, want %s", got, want)
	}
	if n := len((&Tag{}).NamedLimits()); n != 0 {
		t.Errorf("a tag without limits has %d named limits", n)
	}
}
