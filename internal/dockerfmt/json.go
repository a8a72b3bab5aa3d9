package dockerfmt

import (
	"golang.org/x/text/width"
)

// TruncateID is an ID's first 12 hex digits, its algorithm dropped.
func TruncateID(id string) string {
	for i, c := range id {
		if c == ':' {
			id = id[i+1:]
			break
		}
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// Ellipsis cuts s to max display columns, ending it with "…" when it was longer (wide
// characters take two columns).
func Ellipsis(s string, max int) string {
	if max <= 0 {
		return ""
	}
	rs := []rune(s)
	if len(rs) == 0 {
		return s
	}
	if max == 1 {
		return string(rs[0])
	}
	width, cut := 0, -1
	for i, r := range rs {
		width += charWidth(r)
		if width <= max-1 {
			cut = i
		}
	}
	if width <= max {
		return s
	}
	return string(rs[:cut+1]) + "…"
}

// charWidth is how many columns r takes: two for East Asian wide and full-width
// characters, as docker counts them.
func charWidth(r rune) int {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
