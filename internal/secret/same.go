package secret

import (
	"bytes"
	"encoding/base64"
	"io"
	"unicode/utf8"
)

// valueFacts caches, for one Encodings call, what tells forms of a long value apart
// without comparing them byte by byte (one pass over the value or one encoding, instead
// of encoding both forms in full for every pair with equal heads).
type valueFacts struct {
	b64Special map[b64Key]bool // the standard encoding at a shift holds '+' or '/'
}

type b64Key struct {
	value *byte
	n     int
	shift int
}

// repeats reports whether e is the same bytes as one of out.
func (f *valueFacts) repeats(out []Encoding, e *Encoding) bool {
	for i := range out {
		if f.sameForm(&out[i], e) {
			return true
		}
	}
	return false
}

// sameForm reports whether a and b are the same bytes: equal heads, then for long forms
// equal lengths and what their kinds tell, or equal streams.
func (f *valueFacts) sameForm(a, b *Encoding) bool {
	if a.Whole != b.Whole || !bytes.Equal(a.Head, b.Head) {
		return false
	}
	if a.Whole {
		return true
	}
	if longerVariant(&a.src, &b.src) {
		return false
	}
	if a.length() != b.length() {
		return false
	}
	if same, decided := f.sameSource(&a.src, &b.src); decided {
		return same
	}
	if a.src.kind == kindBase64 && b.src.kind == kindBase64 && !bytes.Equal(a.src.b64Tail(), b.src.b64Tail()) {
		return false // two variants of a value: their ends differ, if anything
	}
	return sameStream(a, b)
}

// longerVariant reports forms of one kind made from a value and from that value without
// its trailing white space: every character adds at least one byte to a raw, hex, URL or
// JSON form, so the longer value's form is longer, and the two differ without working out
// their lengths (a pass over each form).
func longerVariant(a, b *source) bool {
	if a.kind != b.kind || a.kind == kindBase64 || len(a.value) == len(b.value) ||
		len(a.value) == 0 || len(b.value) == 0 || &a.value[0] != &b.value[0] {
		return false
	}
	switch a.kind {
	case kindRaw, kindHex, kindHexUpper, kindURL, kindURLPath, kindJSON, kindJSONHTML:
		return true
	}
	return false
}

// b64Tail is the last 64 or so characters of a base64 form (padding included), encoded
// from the value's last bytes only.
func (src *source) b64Tail() []byte {
	_, _, end := src.b64Bounds()
	r := src.open()
	r.next = max(0, (end-64)*6/8/3*3) // a block boundary of the stream before the last 64 characters
	defer r.Close()
	b, _ := io.ReadAll(r)
	return b
}

// sameSource decides whether two forms of equal length (or a JSON form) made from the
// same value are equal where their kinds tell.
func (f *valueFacts) sameSource(a, b *source) (same, decided bool) {
	if len(a.value) == 0 || len(b.value) == 0 || &a.value[0] != &b.value[0] {
		return false, false
	}
	if len(a.value) != len(b.value) {
		// One value is the other without its trailing white space: at one shift and in
		// one alphabet, their base64 streams agree up to the shorter value's end, so two
		// such forms of equal length can only differ in their last characters.
		if a.kind == kindBase64 && b.kind == kindBase64 && a.enc == b.enc && a.coreShift() == b.coreShift() {
			return bytes.Equal(a.b64Tail(), b.b64Tail()), true
		}
		return false, false
	}
	if a.kind > b.kind {
		a, b = b, a
	}
	switch {
	case a.kind == kindBase64 && b.kind == kindBase64:
		if a.coreShift() != b.coreShift() {
			return false, false
		}
		// Equal lengths at one shift: one is a prefix of the other, so equal, but for
		// the alphabet where the stream holds a '+' or '/'.
		return a.enc == b.enc || !f.special(a), true
	case a.kind == kindHex && b.kind == kindHexUpper:
		return noHexLetters(a.value), true
	case (a.kind == kindRaw || a.kind == kindJSON) && (b.kind == kindJSON || b.kind == kindJSONHTML),
		a.kind == kindRaw && b.kind == kindURLPath, a.kind == kindURL && b.kind == kindURLPath:
		// Every JSON and %-escape is longer than what it escapes: equal lengths, no
		// escape (and no space, which query escaping turns into a shorter "+" than %20).
		return true, true
	case a.kind == kindRaw && b.kind == kindURL:
		return !bytes.ContainsRune(a.value, ' '), true
	}
	return false, false
}

// coreShift is the shift of a base64 form's stream (0 for the whole-value forms).
func (src *source) coreShift() int {
	if src.mode == b64Core {
		return src.shift
	}
	return 0
}

// special reports whether the standard-alphabet stream of src's value at src's shift
// holds a '+' or '/' (where the URL alphabet differs).
func (f *valueFacts) special(src *source) bool {
	k := b64Key{&src.value[0], len(src.value), src.coreShift()}
	if v, ok := f.b64Special[k]; ok {
		return v
	}
	if f.b64Special == nil {
		f.b64Special = map[b64Key]bool{}
	}
	if found, ok := asciiSpecial(src.value); ok {
		for shift, v := range found {
			f.b64Special[b64Key{k.value, k.n, shift}] = v
		}
		return found[k.shift]
	}
	std := *src
	std.mode, std.shift = b64Raw, 0
	if src.mode == b64Core {
		std.mode, std.shift = b64Core, src.shift
	}
	std.enc = base64.RawStdEncoding
	r := std.open()
	defer r.Close()
	var buf [4096]byte
	found := false
	for !found {
		n, err := r.Read(buf[:])
		found = bytes.IndexByte(buf[:n], '+') >= 0 || bytes.IndexByte(buf[:n], '/') >= 0
		if err != nil || n == 0 {
			break
		}
	}
	clear(buf[:])
	f.b64Special[k] = found
	return found
}

// asciiSpecial tells special for the three shifts at once, without encoding, when v is
// ASCII: then a sextet is 62 or 63 ('+' or '/') only as the last of a 3-byte group, the
// group's third byte being '>', '?', '~' or DEL (byte & 63 ≥ 62); ok is false when v is
// not ASCII.
func asciiSpecial(v []byte) (found [3]bool, ok bool) {
	for i, c := range v {
		if c >= utf8.RuneSelf {
			return found, false
		}
		if c&63 >= 62 {
			found[(2-i%3+3)%3] = true // the shift that puts byte i third in its group
		}
	}
	return found, true
}

// noHexLetters reports whether no byte of v has a nibble from 10 to 15 (hex and
// hex-upper are then equal).
func noHexLetters(v []byte) bool {
	for _, c := range v {
		if c>>4 > 9 || c&15 > 9 {
			return false
		}
	}
	return true
}

// sameStream compares two forms in full.
func sameStream(a, b *Encoding) bool {
	ra, rb := a.Open(), b.Open()
	defer ra.Close()
	defer rb.Close()
	var x, y [4096]byte
	defer clear(x[:])
	defer clear(y[:])
	for {
		n, errA := io.ReadFull(ra, x[:])
		m, errB := io.ReadFull(rb, y[:])
		if n != m || !bytes.Equal(x[:n], y[:m]) {
			return false
		}
		if errA != nil || errB != nil {
			return (errA != nil) == (errB != nil)
		}
	}
}
