package bus

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/linewatch/linewatch/config"
)

// Role is a NATS identity of linewatch: what a process (or a component of
// it) may publish and subscribe, per docs/nats-security.md.
type Role string

// The roles. A process running several of them (linewatch run --roles
// all) opens one connection per role, so each component keeps its own
// least privilege.
const (
	RoleCollector Role = "collector"
	RoleAnalytics Role = "analytics"
	RoleAlerts    Role = "alerts"
	// RoleOperator: the web console, `linewatch alarms`, `linewatch audit`
	// and other operator clients.
	RoleOperator Role = "operator"
	// RoleAdmin creates and updates the streams; full access.
	RoleAdmin Role = "admin"
)

// Roles lists every role that gets a credential.
var Roles = []Role{RoleCollector, RoleAnalytics, RoleAlerts, RoleOperator, RoleAdmin}

// CredentialsDir is where the embedded server keeps one nkey seed per
// role: <data_dir>/nats-auth.
func CredentialsDir(dataDir string) string { return filepath.Join(dataDir, "nats-auth") }

// SeedFile is the nkey seed of role r in dir: <dir>/<role>.nk.
func SeedFile(dir string, r Role) string { return filepath.Join(dir, string(r)+".nk") }

// Credentials are the public keys of the role seeds in Dir.
type Credentials struct {
	Dir    string
	Public map[Role]string
}

// EnsureCredentials creates dir (0700) and a user nkey seed per role (0600)
// where one is missing, and returns every role's public key. Existing seeds
// are kept, so processes that already read them keep working. A directory
// or seed that group or others can read is refused: that would hand the
// role to every local user.
func EnsureCredentials(dir string) (*Credentials, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("NATS credentials directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("NATS credentials directory %s: %w", dir, err)
	}
	for _, r := range Roles {
		p := SeedFile(dir, r)
		if _, err := os.Lstat(p); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("NATS %s credential %s: %w", r, p, err)
		}
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("NATS %s credential: %w", r, err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, err
		}
		// O_EXCL: two processes starting at once never overwrite each other's seed.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("NATS %s credential %s: %w", r, p, err)
		}
		_, werr := f.Write(append(seed, '\n'))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(p)
			return nil, fmt.Errorf("NATS %s credential %s: %w", r, p, werr)
		}
	}
	return LoadCredentials(dir)
}

// LoadCredentials reads the role seeds of dir and returns their public keys.
func LoadCredentials(dir string) (*Credentials, error) {
	if err := private(dir, true); err != nil {
		return nil, err
	}
	c := &Credentials{Dir: dir, Public: map[Role]string{}}
	for _, r := range Roles {
		kp, err := readSeed(SeedFile(dir, r))
		if err != nil {
			return nil, fmt.Errorf("NATS %s credential: %w", r, err)
		}
		pub, err := kp.PublicKey()
		kp.Wipe()
		if err != nil {
			return nil, fmt.Errorf("NATS %s credential: %w", r, err)
		}
		c.Public[r] = pub
	}
	return c, nil
}

func readSeed(p string) (nkeys.KeyPair, error) {
	if err := private(p, false); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		return nil, fmt.Errorf("%s: not a NATS nkey seed: %w", p, err)
	}
	return kp, nil
}

// private refuses a path that group or others may read or write.
func private(p string, dir bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	switch {
	case dir && !fi.IsDir():
		return fmt.Errorf("%s: not a directory", p)
	case !dir && !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file (mode %s)", p, fi.Mode())
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s: mode %04o lets other users read it: chmod %s %s", p, fi.Mode().Perm(), map[bool]string{true: "700", false: "600"}[dir], p)
	}
	return nil
}

// ExplicitAuth reports whether the config names NATS credentials itself.
func ExplicitAuth(n config.NATS) bool {
	return n.User != "" || n.NKeyFile != "" || n.CredsFile != ""
}

// ForRole returns the NATS settings a client of role r connects with. The
// config's own credentials win (an external server with its own users).
// Otherwise the role's seed in <data_dir>/nats-auth, written by the
// embedded server on first start, is used: required when the config uses
// the embedded server (nats.url empty), and used when present for a
// nats.url on the same machine. nkeys are challenge-response, so a server
// that is not ours learns nothing it could replay.
func ForRole(cfg *config.Config, r Role) (config.NATS, error) {
	n := cfg.NATS
	if ExplicitAuth(n) {
		return n, nil
	}
	p := SeedFile(CredentialsDir(cfg.DataDir), r)
	if _, err := readSeed(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) && n.URL != "" {
			return n, nil // an external server without linewatch's own credentials
		}
		if errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("NATS %s credential %s does not exist: start `linewatch run` with this config first (the embedded server creates the credentials), or run as the user who owns %s", r, p, cfg.DataDir)
		}
		return n, fmt.Errorf("NATS %s credential: %w", r, err)
	}
	n.NKeyFile = p
	return n, nil
}
