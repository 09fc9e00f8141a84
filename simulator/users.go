package simulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadUsersFile reads a users file: one "name:password" per line, blank
// lines and lines starting with # ignored. The file must not be readable by
// group or others, as it holds passwords.
func LoadUsersFile(path string) (map[string]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("users file %s is readable by others (mode %v): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	u, err := ParseUsers(b)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return u, nil
}

// ParseUsers parses the users file format, reporting every bad line.
func ParseUsers(b []byte) (map[string]string, error) {
	users := map[string]string{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, pass, ok := strings.Cut(line, ":")
		switch {
		case !ok || name == "" || pass == "":
			errs = append(errs, fmt.Errorf("line %d: want name:password", n))
		case strings.ContainsAny(name, " \t"):
			errs = append(errs, fmt.Errorf("line %d: user name %q contains blanks", n, name))
		case users[name] != "":
			errs = append(errs, fmt.Errorf("line %d: duplicate user %q", n, name))
		default:
			users[name] = pass
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(users) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no users"))
	}
	return users, errors.Join(errs...)
}

// UserFromEnv resolves "name:ENV_VAR": the password is read from the
// environment so it never appears on a command line.
func UserFromEnv(spec string, getenv func(string) string) (string, string, error) {
	name, env, ok := strings.Cut(spec, ":")
	if !ok || name == "" || env == "" {
		return "", "", fmt.Errorf("user %q: want name:ENV_VAR (the password is read from that environment variable)", spec)
	}
	pass := getenv(env)
	if pass == "" {
		return "", "", fmt.Errorf("user %s: environment variable %s is empty or unset: export it with the password", name, env)
	}
	return name, pass, nil
}
