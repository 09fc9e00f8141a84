package config

import (
	"path/filepath"
	"strings"
)

// MoveDataDir points the config at another data directory: DataDir and
// every path under the old one (spool, embedded NATS store, PKI, trusted
// certificates, keys, reports) move with it, so a test or the demo never
// writes a key or a spool into the directory it happens to run in. Paths
// set outside the old data directory stay where they are.
func (c *Config) MoveDataDir(dir string) {
	old := filepath.Clean(c.DataDir)
	c.DataDir = dir
	re := func(p *string) {
		if *p == "" {
			return
		}
		clean := filepath.Clean(*p)
		if clean == old {
			*p = dir
		} else if rest, ok := strings.CutPrefix(clean, old+string(filepath.Separator)); ok {
			*p = filepath.Join(dir, rest)
		}
	}
	re(&c.InfluxDB.Spool.Dir)
	re(&c.NATS.Embedded.StoreDir)
	re(&c.Collector.PKIDir)
	re(&c.Reports.SigningKeyFile)
	re(&c.Reports.OutputDir)
	re(&c.Audit.KeyFile)
	for li := range c.Lines {
		for mi := range c.Lines[li].Machines {
			re(&c.Lines[li].Machines[mi].TrustedCertsDir)
		}
	}
}
