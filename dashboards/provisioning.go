package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/linewatch/linewatch/internal/atomicfile"

	"gopkg.in/yaml.v3"

	"github.com/linewatch/linewatch/config"
)

// DefaultTokenEnv is the environment variable Grafana reads its InfluxDB
// token from when the config uses authentication. It should hold a
// read-only token, not the collector's write token.
const DefaultTokenEnv = "LINEWATCH_GRAFANA_INFLUX_TOKEN"

// Options tune the generated provisioning. The zero value suits a Grafana
// on the same machine as linewatch.
type Options struct {
	// InfluxURL is how Grafana reaches InfluxDB. Default: the config's
	// influxdb.url, or http://127.0.0.1:8086 when linewatch runs its own.
	InfluxURL string
	// DashboardsPath is the dashboards folder as Grafana sees it (set it when
	// Grafana runs in a container). Default: the absolute path written to.
	DashboardsPath string
	// TokenEnv / TokenFile name Grafana's InfluxDB credential ("user:password"
	// on 1.x, a token on 2.x/3.x) by reference; it is never written to disk.
	// Default when the config has a token: TokenEnv = DefaultTokenEnv.
	TokenEnv, TokenFile string
	// Refresh is the dashboards' auto-refresh interval. Default 30s.
	Refresh string
}

func (o Options) withDefaults(cfg *config.Config) Options {
	if o.InfluxURL == "" {
		o.InfluxURL = cfg.InfluxDB.URL
	}
	if o.InfluxURL == "" {
		o.InfluxURL = "http://127.0.0.1:8086"
	}
	if o.TokenEnv == "" && o.TokenFile == "" && (cfg.InfluxDB.TokenEnv != "" || cfg.InfluxDB.TokenFile != "") {
		o.TokenEnv = DefaultTokenEnv
	}
	if o.Refresh == "" {
		o.Refresh = "30s"
	}
	return o
}

// Layout of the provisioning directory (Grafana's paths.provisioning).
const (
	DatasourceFile = "datasources/linewatch.yaml"
	ProviderFile   = "dashboards/linewatch.yaml"
	DashboardsDir  = "dashboards/linewatch"
)

// Generate writes Grafana provisioning for cfg into dir with default Options.
func Generate(cfg *config.Config, dir string) error {
	_, err := GenerateWith(cfg, dir, Options{})
	return err
}

// GenerateWith writes the data source, the dashboard provider and every
// dashboard into dir, replacing earlier output: dashboards no longer in the
// config are removed so Grafana does not keep showing them. It returns the
// dashboards written.
func GenerateWith(cfg *config.Config, dir string, opts Options) ([]Generated, error) {
	if dir == "" {
		return nil, errors.New("dashboards: no output directory given; pass -o DIR")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dashboards: output directory %q: %w", dir, err)
	}
	opts = opts.withDefaults(cfg)
	if opts.DashboardsPath == "" {
		opts.DashboardsPath = filepath.Join(abs, DashboardsDir)
	}
	gens, err := Build(cfg, opts)
	if err != nil {
		return nil, err
	}
	ds, err := DatasourceYAML(cfg, opts)
	if err != nil {
		return nil, err
	}
	prov, err := ProviderYAML(opts.DashboardsPath)
	if err != nil {
		return nil, err
	}
	dashDir := filepath.Join(abs, DashboardsDir)
	for _, d := range []string{filepath.Join(abs, "datasources"), dashDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("dashboards: %w", err)
		}
	}
	if err := writeFile(filepath.Join(abs, DatasourceFile), ds, 0o640); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(abs, ProviderFile), prov, 0o644); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, g := range gens {
		raw, err := json.MarshalIndent(g.Dashboard, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboards: encode %s: %w", g.UID, err)
		}
		if err := writeFile(filepath.Join(dashDir, g.File), append(raw, '\n'), 0o644); err != nil {
			return nil, err
		}
		keep[g.File] = true
	}
	old, err := filepath.Glob(filepath.Join(dashDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	for _, f := range old {
		if !keep[filepath.Base(f)] {
			if err := os.Remove(f); err != nil {
				return nil, fmt.Errorf("dashboards: remove stale %s: %w", f, err)
			}
		}
	}
	return gens, nil
}

// writeFile replaces path whole, so that Grafana, which polls the
// folder, never reads a half-written dashboard.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("dashboards: write %s: %w", path, err)
	}
	return nil
}

// Provisioning file schemas (Grafana "apiVersion: 1").

type datasourceFile struct {
	APIVersion  int          `yaml:"apiVersion"`
	Datasources []datasource `yaml:"datasources"`
}

type datasource struct {
	Name           string            `yaml:"name"`
	UID            string            `yaml:"uid"`
	Type           string            `yaml:"type"`
	Access         string            `yaml:"access"`
	URL            string            `yaml:"url"`
	IsDefault      bool              `yaml:"isDefault"`
	Editable       bool              `yaml:"editable"`
	JSONData       map[string]any    `yaml:"jsonData"`
	SecureJSONData map[string]string `yaml:"secureJsonData,omitempty"`
}

// DatasourceYAML renders the InfluxQL data source. Credentials and the CA
// certificate are references Grafana expands when it reads the file
// ($__env{…}, $__file{…}); no secret is written.
func DatasourceYAML(cfg *config.Config, opts Options) ([]byte, error) {
	opts = opts.withDefaults(cfg)
	db := cfg.InfluxDB.Database
	if db == "" && cfg.InfluxDB.Bucket != "" {
		db, _, _ = strings.Cut(cfg.InfluxDB.Bucket, "/")
	}
	if db == "" {
		return nil, errors.New("dashboards: influxdb.database (or bucket) is empty; set it in the config so Grafana knows which database to query")
	}
	minInterval := minPollInterval(cfg)
	ds := datasource{
		Name: "linewatch InfluxDB", UID: DatasourceUID, Type: DatasourceType, Access: "proxy",
		URL: opts.InfluxURL, IsDefault: false, Editable: false,
		JSONData: map[string]any{
			"version":      "InfluxQL",
			"dbName":       db,
			"httpMode":     "POST",
			"timeInterval": minInterval,
		},
	}
	secure := map[string]string{}
	switch {
	case opts.TokenEnv != "":
		ds.JSONData["httpHeaderName1"] = "Authorization"
		secure["httpHeaderValue1"] = "Token $__env{" + opts.TokenEnv + "}"
	case opts.TokenFile != "":
		ds.JSONData["httpHeaderName1"] = "Authorization"
		secure["httpHeaderValue1"] = "Token $__file{" + opts.TokenFile + "}"
	}
	if t := cfg.InfluxDB.TLS; t.Enabled || strings.HasPrefix(opts.InfluxURL, "https://") {
		if t.CAFile != "" {
			ds.JSONData["tlsAuthWithCACert"] = true
			secure["tlsCACert"] = "$__file{" + t.CAFile + "}"
		}
		if t.ServerName != "" {
			ds.JSONData["serverName"] = t.ServerName
		}
		if t.InsecureSkipVerify {
			ds.JSONData["tlsSkipVerify"] = true
		}
	}
	if len(secure) > 0 {
		ds.SecureJSONData = secure
	}
	return marshalYAML(datasourceFile{APIVersion: 1, Datasources: []datasource{ds}})
}

type providerFile struct {
	APIVersion int        `yaml:"apiVersion"`
	Providers  []provider `yaml:"providers"`
}

type provider struct {
	Name                  string          `yaml:"name"`
	OrgID                 int             `yaml:"orgId"`
	Folder                string          `yaml:"folder"`
	FolderUID             string          `yaml:"folderUid"`
	Type                  string          `yaml:"type"`
	DisableDeletion       bool            `yaml:"disableDeletion"`
	AllowUIUpdates        bool            `yaml:"allowUiUpdates"`
	UpdateIntervalSeconds int             `yaml:"updateIntervalSeconds"`
	Options               providerOptions `yaml:"options"`
}

type providerOptions struct {
	Path string `yaml:"path"`
}

// ProviderYAML renders the file dashboard provider reading dashboardsPath.
// UI edits are refused: the config is the source of truth, and a dashboard
// edited in Grafana would silently diverge from it.
func ProviderYAML(dashboardsPath string) ([]byte, error) {
	return marshalYAML(providerFile{APIVersion: 1, Providers: []provider{{
		Name: "linewatch", OrgID: 1, Folder: "linewatch", FolderUID: "linewatch", Type: "file",
		UpdateIntervalSeconds: 30, Options: providerOptions{Path: dashboardsPath},
	}}})
}

func marshalYAML(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Generated by `linewatch dashboards generate`; edit the linewatch config, not this file.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("dashboards: encode provisioning: %w", err)
	}
	enc.Close()
	return b.Bytes(), nil
}

// minPollInterval is the shortest poll or publishing interval: Grafana
// should not group by a shorter $__interval than data arrives at.
func minPollInterval(cfg *config.Config) string {
	best := "1s"
	var min int64
	for _, l := range cfg.Lines {
		for _, m := range l.Machines {
			for _, p := range m.PollGroups {
				if d := int64(p.Interval); d > 0 && (min == 0 || d < min) {
					min = d
				}
			}
			for _, s := range m.Subscriptions {
				if d := int64(s.PublishingInterval); d > 0 && (min == 0 || d < min) {
					min = d
				}
			}
		}
	}
	if min >= int64(1e9) {
		best = fmt.Sprintf("%ds", min/int64(1e9))
	}
	return best
}
