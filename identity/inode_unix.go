//go:build unix

package identity

import (
	"os"
	"syscall"
)

// inode tells a replaced file (editors write a new file and rename it)
// from the old one even when size and mtime match.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
