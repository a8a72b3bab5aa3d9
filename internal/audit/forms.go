package audit

import (
	"bytes"
	"slices"
	"strings"

	"github.com/hush-build/hush/internal/secret"
)

// Form is one encoding of a secret value; the list is shared with log masking so that
// what the audit looks for and what output hides never drift apart.
type Form = secret.Form

// Forms lists the encodings of value that hush searches for and masks (see secret.Forms
// and docs/spec/audit-report.md).
func Forms(value []byte) []Form { return secret.Forms(value) }

// winLen is the length of the windows searched for: fixed pieces of each form, a hit on
// one being then verified against the whole form around it.
const winLen = 16

// winStride is the distance between the windows of a form that line breaks may cut
// (base64, hex): at most minWrap−winLen+1, so that each line of minWrap or more
// characters holds a whole window.
const winStride = 44

// minWrap is the narrowest line width at which a wrapped copy is always found: `xxd -p`
// writes hex in lines of 60; PEM and `openssl base64` 64, `base64` 76.
const minWrap = 60

// matchEncodings are the forms of value the audit searches: Encodings of the value
// without its surrounding white space (every form of the untrimmed value contains one of
// the trimmed value's), less each padded or unpadded base64 encoding whose alphabet's
// core0 is searched too (core0 is a prefix of both).
func matchEncodings(value []byte) []secret.Encoding {
	t := bytes.TrimSpace(value)
	if len(t) == 0 {
		t = value
	}
	all := secret.Encodings(t)
	has := func(name string) bool {
		return slices.ContainsFunc(all, func(e secret.Encoding) bool { return e.Name == name })
	}
	var out []secret.Encoding
	for _, e := range all {
		alpha, variant, _ := strings.Cut(e.Name, "-")
		isB64 := alpha == "base64" || alpha == "base64url"
		if isB64 && (variant == "" || variant == "raw") &&
			(has(alpha+"-core0") || variant == "" && has(alpha+"-raw")) {
			e.Wipe()
			continue
		}
		out = append(out, e)
	}
	return out
}

// wraps reports whether copies of the form named name may be cut into lines (base64 as
// `base64`, PEM or openssl write it; hex as `xxd -p` does): such a copy is matched with
// any line breaks ("\n", "\r") between its characters.
func wraps(name string) bool {
	return strings.HasPrefix(name, "base64") || strings.HasPrefix(name, "hex")
}

// windows returns the offsets in the form of the windows searched for. A form shorter
// than winLen is searched whole (nil). A form that wraps gets windows every winStride
// bytes over its head, plus one ending at its end when the head is the whole form, so
// that a copy cut by line breaks of minWrap or more columns, or by one line break
// anywhere, keeps a whole window on one line (see docs/spec/audit-report.md). Other
// forms get one window: the one of the head with the most distinct bytes, which a
// false start (a PEM header, a JSON key) is least likely to hold.
func windows(e *secret.Encoding, wrap bool) []int {
	n := len(e.Head)
	if n < winLen {
		return nil
	}
	if wrap {
		var offs []int
		for off := 0; off+winLen <= n; off += winStride {
			offs = append(offs, off)
		}
		if last := n - winLen; e.Whole && offs[len(offs)-1] != last {
			offs = append(offs, last)
		}
		return offs
	}
	best, bestN := 0, -1
	var seen [256]int // last window start each byte was counted for, plus one
	for off := 0; off+winLen <= n; off++ {
		d := 0
		for _, c := range e.Head[off : off+winLen] {
			if seen[c] != off+1 {
				seen[c] = off + 1
				d++
			}
		}
		if d > bestN {
			best, bestN = off, d
		}
	}
	return []int{best}
}
