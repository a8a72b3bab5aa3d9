package progress

import (
	"strings"
	"unicode/utf8"
)

// visible returns what a terminal would show for one line of s, made safe to
// draw inside the live region: only the text after the last carriage return
// (a progress bar's latest state), escape sequences and control characters
// removed, tabs expanded to 8-column stops and newlines turned into spaces.
func visible(s string) string {
	s = strings.TrimRight(s, "\r")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	var b strings.Builder
	col := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == 0x1b:
			i = skipEscape(s, i)
		case r == '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case r == '\n':
			b.WriteByte(' ')
			col++
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			// other control characters move the cursor or ring bells
		default:
			b.WriteRune(r) // invalid bytes become U+FFFD
			col++
		}
	}
	return b.String()
}

// skipEscape returns the index just past the escape sequence whose ESC ends
// right before s[i]: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \) or a
// two-byte escape.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		for i++; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return i
	case ']':
		for i++; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return i
	default:
		return i + 1
	}
}

// truncate cuts s to at most n runes; it never wraps.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// runeLen is the width of s in runes (each taken as one column).
func runeLen(s string) int { return utf8.RuneCountInString(s) }
