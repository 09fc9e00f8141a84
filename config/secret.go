package config

import (
	"fmt"
	"os"
	"strings"
)

// IsSet reports whether the secret is referenced at all.
func (s Secret) IsSet() bool { return s.Env != "" || s.File != "" }

// Resolve reads the secret from its environment variable or file. Secrets
// are resolved only when needed so they never sit in the Config value.
func (s Secret) Resolve() (string, error) {
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set (it holds a secret this config references)", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	}
	return "", nil
}
