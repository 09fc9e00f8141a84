package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Directory is the users file as it is now. Current re-reads the file when
// its size, modification time or inode changed, so a demotion or removal
// takes effect at the next check without a restart.
type Directory struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	users Users
	mtime time.Time
	size  int64
	ino   uint64
}

// NewDirectory reads the users file once; an unreadable or invalid file is
// an error naming it.
func NewDirectory(path string, log *slog.Logger) (*Directory, error) {
	if path == "" {
		return nil, errors.New("no users file configured; set console.users_file and add users with `linewatch console adduser`")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Directory{path: path, log: log}
	if _, err := d.Current(); err != nil {
		return nil, err
	}
	return d, nil
}

// Path is the users file's path.
func (d *Directory) Path() string { return d.path }

// Current returns the users file's contents now. When the file becomes
// unreadable or invalid after a good read, the last good copy is kept and
// the problem logged: an editor's half-written file must not lock every
// operator out during an incident.
func (d *Directory) Current() (Users, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fi, err := os.Stat(d.path)
	if err != nil {
		if d.users != nil {
			d.log.Error("users file unreadable; keeping the last good copy", "file", d.path, "err", err)
			return d.users, nil
		}
		return nil, fmt.Errorf("users file: %w (create it with `linewatch console adduser`)", err)
	}
	ino := inode(fi)
	if d.users != nil && fi.ModTime().Equal(d.mtime) && fi.Size() == d.size && ino == d.ino {
		return d.users, nil
	}
	u, err := LoadUsers(d.path)
	if err != nil {
		if d.users != nil {
			d.log.Error("users file invalid; keeping the last good copy", "file", d.path, "err", err)
			return d.users, nil
		}
		return nil, err
	}
	d.users, d.mtime, d.size, d.ino = u, fi.ModTime(), fi.Size(), ino
	return u, nil
}

// Lookup returns the current record of a user.
func (d *Directory) Lookup(name string) (User, bool, error) {
	u, err := d.Current()
	if err != nil {
		return User{}, false, err
	}
	usr, ok := u[name]
	return usr, ok, nil
}

// Check verifies a password against the current users file.
func (d *Directory) Check(name, password string) (User, bool, error) {
	u, err := d.Current()
	if err != nil {
		return User{}, false, err
	}
	usr, ok := u.Check(name, password)
	return usr, ok, nil
}
