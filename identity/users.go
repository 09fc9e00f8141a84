package identity

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Roles a user may have.
const (
	RoleViewer     = "viewer"     // sees alarms
	RoleOperator   = "operator"   // acknowledges and shelves
	RoleSupervisor = "supervisor" // as operator; the alarm service may allow more
)

var roles = []string{RoleViewer, RoleOperator, RoleSupervisor}

// BcryptCost of new password hashes.
const BcryptCost = 12

// MinPasswordLen is the shortest password HashUser accepts.
const MinPasswordLen = 12

// User is one line of the users file.
type User struct {
	Name string
	Role string
	// PrintedName is the signer's printed name (21 CFR 11.50(a)(1)); the
	// user name when the line has none.
	PrintedName string
	hash        []byte
}

// Users maps user names to users.
type Users map[string]User

// LoadUsers reads a users file.
func LoadUsers(path string) (Users, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w (create it with `linewatch console adduser`)", err)
	}
	u, err := ParseUsers(b)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return u, nil
}

// ParseUsers parses "user:role:bcrypt-hash[:printed name]" lines (the
// same file signs QA reports, see package reports); blank lines and lines
// starting with # are ignored. All errors are reported at once. Roles other
// than operator and supervisor may log in but only view.
func ParseUsers(b []byte) (Users, error) {
	users := Users{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		if len(parts) < 3 {
			errs = append(errs, fmt.Errorf("line %d: expected user:role:bcrypt-hash", n))
			continue
		}
		name, role, hash := parts[0], parts[1], parts[2]
		if err := checkName(name); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		if err := checkRole(role); err != nil {
			errs = append(errs, fmt.Errorf("line %d: user %s: %w", n, name, err))
			continue
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			errs = append(errs, fmt.Errorf("line %d: user %s: not a bcrypt hash: %w", n, name, err))
			continue
		}
		if _, dup := users[name]; dup {
			errs = append(errs, fmt.Errorf("line %d: user %s listed twice", n, name))
			continue
		}
		printed := name
		if len(parts) == 4 && strings.TrimSpace(parts[3]) != "" {
			printed = strings.TrimSpace(parts[3])
		}
		users[name] = User{Name: name, Role: role, PrintedName: printed, hash: []byte(hash)}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return users, errors.Join(errs...)
}

func checkRole(role string) error {
	if role == "" || len(role) > 32 {
		return fmt.Errorf("role %q must be 1 to 32 characters (e.g. %s)", role, strings.Join(roles, ", "))
	}
	for _, r := range role {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("role %q: character %q not allowed (use lower-case letters, digits, _ -)", role, r)
		}
	}
	return nil
}

func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("user name %q must be 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return fmt.Errorf("user name %q: character %q not allowed (use letters, digits, . _ - @)", name, r)
		}
	}
	return nil
}

// HashUser returns a users-file line for a new user; append it to the
// file. Roles operator and supervisor may send alarm commands; any other
// role (viewer, qa, …) may only view.
func HashUser(user, role, password string) (string, error) {
	if err := checkName(user); err != nil {
		return "", err
	}
	if err := checkRole(role); err != nil {
		return "", err
	}
	if len(password) < MinPasswordLen {
		return "", fmt.Errorf("password for %s is too short: %d characters, need at least %d", user, len(password), MinPasswordLen)
	}
	if len(password) > 72 {
		return "", fmt.Errorf("password for %s is too long for bcrypt: %d bytes, at most 72", user, len(password))
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return user + ":" + role + ":" + string(h), nil
}

// dummyHash makes unknown-user logins cost as much as wrong passwords, so
// timing does not reveal which user names exist.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("linewatch-no-such-user"), BcryptCost)
	return h
})

// Check returns the user if name and password match. An unknown name
// costs one bcrypt comparison too.
func (u Users) Check(name, password string) (User, bool) {
	usr, ok := u[name]
	hash := usr.hash
	if !ok {
		hash = dummyHash()
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
		return User{}, false
	}
	return usr, true
}

// CanCommand reports whether the role may send alarm commands.
func CanCommand(role string) bool { return role == RoleOperator || role == RoleSupervisor }
