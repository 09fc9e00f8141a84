package dashboards_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/linewatch/linewatch/dashboards"
	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/internal/testenv"
)

type dsFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		URL            string            `yaml:"url"`
		Access         string            `yaml:"access"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

func TestProvisioningFiles(t *testing.T) {
	dir, _ := generated(t)
	var ds dsFile
	raw, err := os.ReadFile(filepath.Join(dir, dashboards.DatasourceFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasource file: %s", raw)
	}
	d := ds.Datasources[0]
	if d.UID != dashboards.DatasourceUID || d.Type != "influxdb" || d.Access != "proxy" || d.URL != "http://127.0.0.1:8086" {
		t.Errorf("datasource %+v", d)
	}
	if d.JSONData["version"] != "InfluxQL" || d.JSONData["dbName"] != "linewatch" || d.JSONData["httpMode"] != "POST" || d.JSONData["timeInterval"] != "1s" {
		t.Errorf("jsonData %v", d.JSONData)
	}
	if len(d.SecureJSONData) != 0 {
		t.Errorf("demo (no auth) has secureJsonData %v", d.SecureJSONData)
	}

	var prov struct {
		Providers []struct {
			Name, Type string
			Options    struct{ Path string }
		}
	}
	raw, err = os.ReadFile(filepath.Join(dir, dashboards.ProviderFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &prov); err != nil {
		t.Fatal(err)
	}
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path != filepath.Join(dir, dashboards.DashboardsDir) {
		t.Errorf("provider %s", raw)
	}
}

// A token in the config becomes a reference Grafana expands; the secret
// itself is never written, and TLS material is referenced by path.
func TestDatasourceCredentialsByReference(t *testing.T) {
	cfg := demoConfig(t)
	cfg.InfluxDB.URL = "https://influx.plant.example:8086"
	cfg.InfluxDB.TokenEnv = "LINEWATCH_INFLUX_TOKEN"
	cfg.InfluxDB.TLS.Enabled = true
	cfg.InfluxDB.TLS.CAFile = "/etc/linewatch/ca.pem"
	t.Setenv("LINEWATCH_INFLUX_TOKEN", "writer:s3cret-writer")
	raw, err := dashboards.DatasourceYAML(cfg, dashboards.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret") {
		t.Fatalf("secret written to the datasource file:\n%s", raw)
	}
	var ds dsFile
	if err := yaml.Unmarshal(raw, &ds); err != nil {
		t.Fatal(err)
	}
	d := ds.Datasources[0]
	if d.URL != cfg.InfluxDB.URL || d.JSONData["httpHeaderName1"] != "Authorization" ||
		d.SecureJSONData["httpHeaderValue1"] != "Token $__env{"+dashboards.DefaultTokenEnv+"}" ||
		d.SecureJSONData["tlsCACert"] != "$__file{/etc/linewatch/ca.pem}" || d.JSONData["tlsAuthWithCACert"] != true {
		t.Errorf("datasource:\n%s", raw)
	}
	raw, err = dashboards.DatasourceYAML(cfg, dashboards.Options{TokenFile: "/run/secrets/grafana-influx"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "Token $__file{/run/secrets/grafana-influx}") {
		t.Errorf("token file reference missing:\n%s", raw)
	}
}

// The datasource authenticates with "Authorization: Token user:password",
// which InfluxDB 1.8 accepts on /query like a 2.x token, so one datasource
// form serves 1.8, 2.x and 3.x.
func TestInflux18AcceptsTokenHeaderOnQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB")
	}
	srv := testenv.StartInflux(t, influxd.Options{Auth: true, User: "admin", Password: "pw-123"})
	ask := func(auth string) int {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL()+"/query",
			strings.NewReader(url.Values{"q": {"SHOW DATABASES"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := ask("Token admin:pw-123"); c != http.StatusOK {
		t.Errorf("Token user:password: %d, want 200", c)
	}
	if c := ask("Token admin:wrong"); c != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", c)
	}
	if c := ask(""); c != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", c)
	}
}

// Regenerating after a line is removed deletes its dashboard.
func TestGenerateRemovesStaleDashboards(t *testing.T) {
	cfg := demoConfig(t)
	dir := t.TempDir()
	if err := dashboards.Generate(cfg, dir); err != nil {
		t.Fatal(err)
	}
	stranger := filepath.Join(dir, "dashboards", "someone-elses.yaml")
	os.WriteFile(stranger, []byte("x"), 0o644)
	cfg.Lines = cfg.Lines[:1]
	cfg.Analytics.Rules = cfg.Analytics.Rules[:2] // rules of removed lines would not validate
	if err := dashboards.Generate(cfg, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, dashboards.DashboardsDir, "lw-line-lyo1.json")); !os.IsNotExist(err) {
		t.Errorf("stale dashboard of removed line lyo1 kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, dashboards.DashboardsDir, "lw-line-filling1.json")); err != nil {
		t.Errorf("dashboard of kept line: %v", err)
	}
	if _, err := os.Stat(stranger); err != nil {
		t.Errorf("file not written by linewatch was removed: %v", err)
	}
}

func TestGenerateNeedsDir(t *testing.T) {
	if err := dashboards.Generate(demoConfig(t), ""); err == nil || !strings.Contains(err.Error(), "-o DIR") {
		t.Errorf("err = %v, want a hint to pass -o DIR", err)
	}
}
