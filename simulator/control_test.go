package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
)

func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestControlEndpoint(t *testing.T) {
	const token = "t0ken-for-tests"
	s := startSim(t, Options{ControlListen: "127.0.0.1:0", ControlToken: token})
	base := s.ControlURL()
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("control URL %q", base)
	}
	c := mustDial(t, s)

	if code, _ := call(t, "GET", base+"/faults", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := call(t, "GET", base+"/faults", "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}

	code, body := call(t, "POST", base+"/faults", token,
		`{"kind":"status","target":"ns=2;s=coldroom1.coldroom.humidity","status":"BadSensorFailure","after":"10m"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /faults: %d %s", code, body)
	}
	var rec FaultRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatal(err)
	}
	if !rec.Fault.At.Equal(DefaultStart.Add(10*time.Minute)) || rec.Fault.ID == "" || !rec.Start.IsZero() {
		t.Errorf("scheduled record %+v", rec)
	}
	if code, body := call(t, "POST", base+"/advance?by=10m", token, ""); code != http.StatusOK {
		t.Fatalf("advance: %d %s", code, body)
	}
	if dv := readOne(t, c, "coldroom1.coldroom.humidity"); dv.Status != ua.StatusBadSensorFailure {
		t.Errorf("status after the scheduled time: %v", dv.Status)
	}
	code, body = call(t, "GET", base+"/faults", token, "")
	var log []FaultRecord
	if code != http.StatusOK || json.Unmarshal(body, &log) != nil || len(log) != 1 || !log[0].Start.Equal(DefaultStart.Add(10*time.Minute)) {
		t.Fatalf("GET /faults: %d %s", code, body)
	}
	if code, body := call(t, "DELETE", base+"/faults/"+rec.Fault.ID, token, ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if dv := readOne(t, c, "coldroom1.coldroom.humidity"); dv.Status != ua.StatusOK {
		t.Errorf("status after DELETE: %v", dv.Status)
	}
	if code, _ := call(t, "DELETE", base+"/faults/f9999", token, ""); code != http.StatusNotFound {
		t.Errorf("DELETE unknown: %d", code)
	}
	for _, bad := range []string{`{"kind":"drift"}`, `{"kind":"drift","target":"filling1.filler.fill_weight","rate":1,"bogus":1}`, `not json`} {
		if code, _ := call(t, "POST", base+"/faults", token, bad); code != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", bad, code)
		}
	}

	code, body = call(t, "GET", base+"/time", token, "")
	var ti TimeInfo
	if code != http.StatusOK || json.Unmarshal(body, &ti) != nil || !ti.Now.Equal(DefaultStart.Add(10*time.Minute)) {
		t.Errorf("GET /time: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/restart?downtime=0s", token, ""); code != http.StatusAccepted {
		t.Errorf("restart: %d %s", code, body)
	}
	c2 := mustDial(t, s)
	readFloat(t, c2, "filling1.filler.fill_weight")
	if code, _ := call(t, "POST", base+"/drop", token, ""); code != http.StatusOK {
		t.Errorf("drop: %d", code)
	}
	if code, _ := call(t, "POST", base+"/restart?downtime=soon", token, ""); code != http.StatusBadRequest {
		t.Errorf("bad downtime accepted")
	}
}

func TestControlRefusesNonLoopbackWithoutToken(t *testing.T) {
	_, err := Start(t.Context(), Options{AllowAnonymous: true, ControlListen: "0.0.0.0:0", Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "bearer token") {
		t.Fatalf("err = %v", err)
	}
}
