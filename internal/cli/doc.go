// Package cli is the linewatch command tree (cobra). Each command lives in its
// own file and only parses flags, then calls into the package that does the
// work; exit codes are decided in Main.
package cli
