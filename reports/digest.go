package reports

import (
	"errors"

	"github.com/linewatch/linewatch/config"
)

// ConfigDigest returns the SHA-256 (hex) of the config in force: the
// bytes it was parsed from, hashed at load time (config.Config.Digest).
// The file is not read again: it may have been edited since (the report
// must name what the running process uses) or never exist (the demo's
// built-in config).
func ConfigDigest(cfg *config.Config) (string, error) {
	if cfg.Digest == "" {
		return "", errors.New("config digest unknown: the config was not loaded with config.Load or config.Parse")
	}
	return cfg.Digest, nil
}
