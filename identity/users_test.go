package identity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const alicePW = "correct horse battery"

func TestHashUserAndParse(t *testing.T) {
	if _, err := HashUser("bob", RoleOperator, "short"); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short password: %v", err)
	}
	if _, err := HashUser("bob:x", RoleOperator, "long enough password"); err == nil {
		t.Error("user name with ':' accepted")
	}
	if _, err := HashUser("bob", "Ad:min", "long enough password"); err == nil {
		t.Error("role with ':' accepted")
	}
	line, err := HashUser("alice", RoleOperator, alicePW)
	if err != nil || !strings.HasPrefix(line, "alice:operator:$2a$12$") {
		t.Fatalf("HashUser = %q, %v; want a bcrypt cost-12 line", line, err)
	}
	// Roles like qa and a printed name in a fourth field are valid: the
	// file also names QA signers.
	qa := strings.Replace(strings.Replace(line, "alice", "quinn", 1), ":operator:", ":qa:", 1) + ":Dr. Quinn Example"
	u, err := ParseUsers([]byte(line + "\n" + qa + "\n"))
	if err != nil || len(u) != 2 || u["alice"].Role != RoleOperator || u["quinn"].Role != "qa" {
		t.Fatalf("parse: %v %v", u, err)
	}
	if u["quinn"].PrintedName != "Dr. Quinn Example" || u["alice"].PrintedName != "alice" {
		t.Errorf("printed names %q, %q", u["quinn"].PrintedName, u["alice"].PrintedName)
	}
	if got, ok := u.Check("alice", alicePW); !ok || got.Name != "alice" {
		t.Errorf("Check(alice, right password) = %v, %v", got, ok)
	}
	for _, c := range [][2]string{{"alice", alicePW + "x"}, {"nobody", alicePW}, {"alice", ""}} {
		if _, ok := u.Check(c[0], c[1]); ok {
			t.Errorf("Check(%q, %q) accepted", c[0], c[1])
		}
	}
	_, err = ParseUsers([]byte("a:operator:nothash\n\nb::$2a$12$x\nnocolon\n" + line + "\n" + line + "\n"))
	for _, want := range []string{"line 1: user a: not a bcrypt hash", "line 3: user b: role \"\" must be", "line 4: expected user:role:bcrypt-hash", "line 6: user alice listed twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

// A demotion or removal in the users file is seen at the next check, also
// when the editor replaces the file with one of the same size; a broken
// edit keeps the last good copy.
func TestDirectoryFollowsTheFile(t *testing.T) {
	line, err := HashUser("carol", RoleSupervisor, alicePW)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	write := func(s string) {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(line + "\n")
	d, err := NewDirectory(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok, _ := d.Lookup("carol"); !ok || u.Role != RoleSupervisor {
		t.Fatalf("carol = %v, %v", u, ok)
	}
	// "supervisor" → "operator__": same length, so the same size.
	write(strings.Replace(line, ":supervisor:", ":operator__:", 1) + "\n")
	if u, ok, _ := d.Lookup("carol"); !ok || u.Role != "operator__" {
		t.Fatalf("after demotion carol = %v, %v", u, ok)
	}
	write("carol:broken\n")
	if u, ok, _ := d.Lookup("carol"); !ok || u.Role != "operator__" {
		t.Fatalf("after a broken edit carol = %v, %v; want the last good copy", u, ok)
	}
	write("# nobody\n")
	if _, ok, _ := d.Lookup("carol"); ok {
		t.Fatal("carol still found after removal")
	}
	if _, ok, _ := d.Check("carol", alicePW); ok {
		t.Fatal("removed user's password accepted")
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add([]byte("alice:operator:$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\n"))
	f.Add([]byte("# comment\n\nbob:viewer:x\n:::\n"))
	f.Add([]byte("a:b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUsers(b)
		if err == nil {
			for name, usr := range u {
				if name == "" || strings.ContainsAny(name, ":\n") || usr.Name != name || usr.PrintedName == "" {
					t.Errorf("bad user %q accepted", name)
				}
			}
		}
	})
}
