package cluster

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/linewatch/linewatch/config"
)

// ConfigOptions are the settings a process's config file differs in from
// the built-in demo config (config.DemoYAML).
type ConfigOptions struct {
	DataDir   string        // shared by every process: NATS role seeds, auth-token key
	ProcDir   string        // this process's own: spool and OPC UA client PKI
	InfluxURL string        // InfluxDB
	NATSURLs  string        // nats.url: every node
	Replicas  int           // nats.replicas
	Endpoint  string        // the simulator
	Poll      time.Duration // every poll group
	// Console is the console's listen address ("" : off).
	Console string
	// Set holds further settings by dotted path ("alarms.flood.threshold").
	Set map[string]any
	// Base is the config the settings apply to (default config.DemoYAML).
	Base []byte
}

// RenderConfig is the demo config (or o.Base) as YAML with o applied, checked by
// config.Parse (strict decoding, validation), so a process never fails on
// a config the harness wrote.
func RenderConfig(o ConfigOptions) ([]byte, error) {
	var doc yaml.Node
	base := o.Base
	if base == nil {
		base = config.DemoYAML
	}
	if err := yaml.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	console := o.Console
	if console == "" {
		console = "off"
	}
	sets := []struct {
		path []string
		v    any
	}{
		{[]string{"data_dir"}, o.DataDir},
		{[]string{"influxdb", "url"}, o.InfluxURL},
		{[]string{"influxdb", "flush_interval"}, "100ms"},
		{[]string{"influxdb", "spool", "dir"}, o.ProcDir + "/spool"},
		{[]string{"nats", "url"}, o.NATSURLs},
		{[]string{"nats", "replicas"}, o.Replicas},
		{[]string{"collector", "metrics_listen"}, "off"},
		{[]string{"collector", "pki_dir"}, o.ProcDir + "/pki"},
		{[]string{"collector", "reconnect_min"}, "50ms"},
		{[]string{"collector", "reconnect_max"}, "500ms"},
		{[]string{"console", "listen"}, console},
	}
	for _, s := range sets {
		if err := set(root, s.v, s.path...); err != nil {
			return nil, err
		}
	}
	for k, v := range o.Set {
		if err := set(root, v, splitDots(k)...); err != nil {
			return nil, err
		}
	}
	lines := get(root, "lines")
	if lines == nil {
		return nil, fmt.Errorf("demo config has no lines")
	}
	for _, l := range lines.Content {
		for _, m := range get(l, "machines").Content {
			if err := set(m, o.Endpoint, "endpoint"); err != nil {
				return nil, err
			}
			if err := set(m, o.ProcDir+"/pki/trusted", "trusted_certs_dir"); err != nil {
				return nil, err
			}
			if pg := get(m, "poll_groups"); pg != nil {
				for _, g := range pg.Content {
					if err := set(g, o.Poll.String(), "interval"); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(b, "cluster.yaml"); err != nil {
		return nil, fmt.Errorf("rendered config: %w", err)
	}
	return b, nil
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// get is the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set sets path under mapping m to v, creating mappings on the way.
func set(m *yaml.Node, v any, path ...string) error {
	for i, key := range path {
		if m.Kind != yaml.MappingNode {
			return fmt.Errorf("config path %v: %s is not a mapping", path, key)
		}
		next := get(m, key)
		if i == len(path)-1 {
			var n yaml.Node
			if err := n.Encode(v); err != nil {
				return err
			}
			if next != nil {
				*next = n
			} else {
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &n)
			}
			return nil
		}
		if next == nil {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, next)
		}
		m = next
	}
	return nil
}
