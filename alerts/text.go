package alerts

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTextLen bounds a reason or comment, in characters.
const MaxTextLen = 1000

// blank runes carry no text: white space, control and format characters
// (zero-width space, BOM, bidi marks) and the characters that render
// empty (Hangul fillers, braille blank).
func blank(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', '\u2800':
		return true
	}
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// cleanText trims a person's reason or comment and refuses text that
// would mislead a reader of the audit trail or a terminal: invalid UTF-8,
// control characters other than line breaks and tabs, bidi overrides,
// more than MaxTextLen characters. A text of only blank characters becomes
// "" (so a required reason is missing, not "   ").
func cleanText(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s is not valid UTF-8", field)
	}
	s = strings.TrimFunc(s, blank)
	if strings.IndexFunc(s, func(r rune) bool { return !blank(r) && !unicode.Is(unicode.Mn, r) }) < 0 {
		return "", nil
	}
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case unicode.IsControl(r):
			return "", fmt.Errorf("%s contains control character %U; send plain text", field, r)
		case r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069':
			return "", fmt.Errorf("%s contains bidirectional override %U; send plain text", field, r)
		}
	}
	if n := utf8.RuneCountInString(s); n > MaxTextLen {
		return "", fmt.Errorf("%s is %d characters, more than %d", field, n, MaxTextLen)
	}
	return s, nil
}
