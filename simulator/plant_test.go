package simulator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const examplePlant = `
name: two-line site
extra_tags: 10
lines:
  - id: filling2
    model: vial_filling
    batch_length: 6h
    batch_prefix: F2
    product_code: INS-3ML
    params:
      fill_target_g: 3.0
      speed_vials_per_min: 200
  - id: mixing1
    model: generic
    machines:
      - id: mixer
        tags:
          - id: speed
            unit: rpm
            description: agitator speed
            mean: 60
            sd: 0.5
            tau: 30s
          - id: jacket_temp
            unit: °C
            mean: 37
            sd: 0.1
            tau: 5m
            cycle_period: 1h
            cycle_amplitude: 0.5
faults:
  - kind: drift
    target: filling2.filler.fill_weight
    at: 2h
    rate: 0.01
  - kind: restart
    at: 2026-01-05T09:00:00Z
    downtime: 30s
  - kind: status
    target: ns=2;s=mixing1.mixer.speed
    at: 90m
    duration: 10m
    status: UncertainLastUsableValue
`

func TestParsePlantExample(t *testing.T) {
	p, err := ParsePlant([]byte(examplePlant))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Lines) != 2 || p.Lines[0].Params["fill_target_g"] != 3.0 || time.Duration(p.Lines[0].BatchLength) != 6*time.Hour {
		t.Fatalf("parsed %+v", p)
	}
	if len(p.Faults) != 3 || p.Faults[2].Fault.Status != "UncertainLastUsableValue" || p.Faults[1].Fault.Downtime != Duration(30*time.Second) {
		t.Fatalf("faults %+v", p.Faults)
	}
	rows := p.Machines()
	if len(rows) != 3 || rows[2].Machine != "mixer" || len(rows[2].Tags) != 2 {
		t.Errorf("machines %+v", rows)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "plant.yaml")
	if err := os.WriteFile(path, []byte(examplePlant), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPlant(path); err != nil {
		t.Fatal(err)
	}
	s := startSim(t, Options{Plant: p})
	c := mustDial(t, s)
	if v := readFloat(t, c, "mixing1.mixer.jacket_temp"); v < 35 || v > 39 {
		t.Errorf("jacket temp %v", v)
	}
	if v := readFloat(t, c, "synthetic.load.tag00010"); v < 30 || v > 70 {
		t.Errorf("extra tag %v", v)
	}
	if len(s.FaultLog()) != 3 {
		t.Errorf("scheduled faults %+v", s.FaultLog())
	}
}

func TestParsePlantReportsEveryError(t *testing.T) {
	bad := `
lines:
  - id: Filling!
    model: vial_filling
    params: {fill_target: 2}
  - id: x
    model: reactor
  - id: x
    model: cold_room
    machines: [{id: m}]
faults:
  - kind: drift
    target: x.coldroom.temp_probe1
    at: yesterday
`
	_, err := ParsePlant([]byte(bad))
	if err == nil {
		t.Fatal("bad plant accepted")
	}
	for _, want := range []string{`id "Filling!"`, `unknown param "fill_target"`, `unknown model "reactor"`, `duplicate line id "x"`,
		"machines can only be listed", `bad at "yesterday"`, "non-zero rate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if _, err := ParsePlant([]byte("lines: []\nunknown_key: 1\n")); err == nil || !strings.Contains(err.Error(), "unknown_key") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := LoadPlant(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func FuzzParsePlant(f *testing.F) {
	f.Add([]byte(examplePlant))
	f.Add([]byte("lines: [{id: a, model: cold_room}]"))
	f.Add([]byte("extra_tags: 60000"))
	f.Add([]byte("lines: [{id: g, model: generic, machines: [{id: m, tags: [{id: t, sd: -1}]}]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePlant(b)
		if err != nil {
			return
		}
		// A plant that validates must build without panicking.
		if _, err := newEngine(p, 1, DefaultStart, 0); err != nil {
			t.Fatalf("valid plant did not build: %v", err)
		}
	})
}

func FuzzFaultJSON(f *testing.F) {
	f.Add([]byte(`{"kind":"drift","target":"filling1.filler.fill_weight","rate":0.01}`))
	f.Add([]byte(`{"kind":"status","target":"coldroom1.coldroom.humidity","status":"0x808C0000"}`))
	f.Add([]byte(`{"kind":"stuck","target":"coldroom1.coldroom.door_open","value":1,"duration":"5m"}`))
	f.Add([]byte(`{"kind":"restart","downtime":"5s","after":"1m"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req FaultRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		e, err := newEngine(DefaultPlant(), 1, DefaultStart, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.inject(req.Fault); err != nil {
			return
		}
		e.advanceTo(e.clock.Add(2 * time.Minute)) // an accepted fault must run without panicking
	})
}

func TestUsersFile(t *testing.T) {
	u, err := ParseUsers([]byte("# operators\noperator:pa:ss\n\nqa:secret\n"))
	if err != nil || u["operator"] != "pa:ss" || u["qa"] != "secret" {
		t.Fatalf("users %v err %v", u, err)
	}
	if _, err := ParseUsers([]byte("nopass\nbad name:x\na:b\na:c\n")); err == nil ||
		!strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("err %v", err)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("a:b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUsersFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable users file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if u, err := LoadUsersFile(path); err != nil || u["a"] != "b" {
		t.Errorf("users %v err %v", u, err)
	}
	env := map[string]string{"OP_PW": "x1"}
	if n, p, err := UserFromEnv("op:OP_PW", func(k string) string { return env[k] }); err != nil || n != "op" || p != "x1" {
		t.Errorf("UserFromEnv: %q %q %v", n, p, err)
	}
	if _, _, err := UserFromEnv("op:MISSING", func(k string) string { return env[k] }); err == nil {
		t.Error("unset env accepted")
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add([]byte("operator:secret\n# c\n"))
	f.Add([]byte(":\n::\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUsers(b)
		if err != nil {
			return
		}
		for name, pass := range u {
			if name == "" || pass == "" {
				t.Fatalf("accepted empty credential %q:%q", name, pass)
			}
		}
	})
}
