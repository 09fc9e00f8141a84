package sample

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Outside text (string values, batch ids, product codes read from a PLC) can
// hold anything the OPC UA String type allows: control characters such as
// the GS1 group separator 0x1D of scanned lot codes, a trailing backslash,
// bytes that are not UTF-8, megabytes. Where such text becomes an InfluxDB
// tag, a NATS header, a file name or PDF text it is percent-encoded
// (docs/storage.md, "Outside text"): reversible, and the identity for the
// usual printable id.

const hexDigits = "0123456789ABCDEF"

// needsEscape reports the bytes Escape encodes besides invalid UTF-8:
// '%' (the escape itself), the C0 controls, DEL and '\' (line protocol
// cannot end a tag with it; JSON and file systems treat it specially).
func needsEscape(c byte) bool { return c < 0x20 || c == 0x7F || c == '%' || c == '\\' }

// Escape percent-encodes '%', '\', the C0 control characters, DEL and every
// byte that is not part of valid UTF-8 as %XX (upper-case hex). Other
// characters, including non-ASCII ones, are kept. Unescape reverses it.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if needsEscape(c) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if needsEscape(c) {
				b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
			} else {
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// ErrTruncated is returned by Unescape for a value cut by EscapeLimit: the
// full value is elsewhere (a raw field) and cannot be rebuilt from it.
var ErrTruncated = errors.New("escaped text was truncated")

// Unescape reverses Escape.
func Unescape(s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '~' {
			return "", fmt.Errorf("%w at byte %d", ErrTruncated, i)
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", fmt.Errorf("bad percent escape at byte %d of %q", i, s)
		}
		b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// EscapeLimit is Escape cut to at most limit bytes (limit ≥ 64): a longer
// result keeps its head, cut at an escape or character boundary, followed
// by "%~" and 32 hex digits of the SHA-256 of s, so distinct values stay
// distinct. Unescape refuses a cut value with ErrTruncated; the caller
// keeps the raw value elsewhere.
func EscapeLimit(s string, limit int) string {
	e := Escape(s)
	if len(e) <= limit {
		return e
	}
	return cutHashed(e, s, limit)
}

// cutHashed cuts the encoding e of s to limit bytes: its head, cut at a
// character or escape boundary, then "%~" and 32 hex digits of SHA-256(s).
func cutHashed(e, s string, limit int) string {
	sum := sha256.Sum256([]byte(s))
	tail := "%~" + hex.EncodeToString(sum[:16])
	cut := max(limit-len(tail), 0)
	for cut > 0 && (!utf8.RuneStart(e[cut]) || e[cut-1] == '%' || (cut >= 2 && e[cut-2] == '%')) {
		cut--
	}
	return e[:cut] + tail
}

// EscapeFileName encodes s as one file-name component: every byte other
// than ASCII letters, digits, '-', '_' and '.' (and a leading '.') becomes
// %XX, so no id can name another directory, a hidden file or a device, and
// the result is the same on every file system. At most 200 bytes (then cut
// as EscapeLimit does). An empty id gives "%", which no other id gives.
func EscapeFileName(s string) string {
	if s == "" {
		return "%"
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || (c == '.' && i > 0)
		if ok {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	const limit = 200
	if len(b) <= limit {
		return string(b)
	}
	return cutHashed(string(b), s, limit)
}
