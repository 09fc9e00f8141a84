package uaclient

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// SelectNodes returns the nodes matching any pattern. A pattern is a
// path.Match glob tried against the browse path ("filling1/filler/*"), the
// node id ("ns=2;s=filling1.*") and the browse name ("fill_*").
func SelectNodes(nodes []BrowsedNode, patterns []string) ([]BrowsedNode, error) {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("select pattern %q: %w", p, err)
		}
	}
	if len(patterns) == 0 {
		return nodes, nil
	}
	var out []BrowsedNode
	for _, n := range nodes {
		for _, p := range patterns {
			a, _ := path.Match(p, n.Path)
			b, _ := path.Match(p, n.NodeID)
			c, _ := path.Match(p, n.Name)
			if a || b || c {
				out = append(out, n)
				break
			}
		}
	}
	return out, nil
}

// yamlTag is the subset of config.Tag that browse can fill in.
type yamlTag struct {
	Name        string `yaml:"name"`
	NodeID      string `yaml:"node_id"`
	Unit        string `yaml:"unit,omitempty"`
	Description string `yaml:"description,omitempty"`
}

// TagYAML renders nodes as a "tags:" list ready to paste under a machine in
// the config. Names are made valid config ids (lower case, [a-z0-9_-]) and unique.
func TagYAML(nodes []BrowsedNode) ([]byte, error) {
	used := map[string]int{}
	tags := make([]yamlTag, 0, len(nodes))
	for _, n := range nodes {
		name := TagName(n.Name)
		used[name]++
		if k := used[name]; k > 1 {
			name = fmt.Sprintf("%s_%d", name, k)
		}
		tags = append(tags, yamlTag{Name: name, NodeID: n.NodeID, Unit: n.Unit, Description: n.Path})
	}
	return yaml.Marshal(map[string][]yamlTag{"tags": tags})
}

// TagName turns a browse name into a config id.
func TagName(s string) string {
	var b strings.Builder
	prevUnderscore := false
	for _, r := range strings.ToLower(s) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-'
		switch {
		case ok:
			b.WriteRune(r)
			prevUnderscore = false
		case !prevUnderscore && b.Len() > 0:
			b.WriteByte('_')
			prevUnderscore = true
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if out == "" || out[0] == '-' {
		out = "tag" + out
	}
	if len(out) > 63 {
		out = out[:63]
	}
	return out
}
