package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every path the defaults put under data_dir moves with it (the demo and
// the tests used to leave the audit key in the working directory).
func TestMoveDataDirMovesEveryDerivedPath(t *testing.T) {
	cfg, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Console.UsersFile = "/etc/linewatch/users" // set outside: stays
	dir := t.TempDir()
	cfg.MoveDataDir(dir)
	paths := map[string]string{
		"influxdb.spool.dir":        cfg.InfluxDB.Spool.Dir,
		"nats.embedded.store_dir":   cfg.NATS.Embedded.StoreDir,
		"collector.pki_dir":         cfg.Collector.PKIDir,
		"reports.signing_key_file":  cfg.Reports.SigningKeyFile,
		"reports.output_dir":        cfg.Reports.OutputDir,
		"audit.key_file":            cfg.Audit.KeyFile,
		"machines[0].trusted_certs": cfg.Lines[0].Machines[0].TrustedCertsDir,
	}
	for name, p := range paths {
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Errorf("%s = %q, not under %s", name, p, dir)
		}
	}
	if cfg.DataDir != dir || cfg.Console.UsersFile != "/etc/linewatch/users" {
		t.Errorf("data_dir %q, users_file %q", cfg.DataDir, cfg.Console.UsersFile)
	}
}
