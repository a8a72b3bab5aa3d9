package secret

import "bytes"

// noByte stands for "no byte here": the start or end of a stream counts as a word
// boundary.
const noByte = -1

// isWordByte reports whether c is an ASCII letter, digit or underscore. Other bytes,
// UTF-8 sequences included, separate words: a Word form next to a non-ASCII letter is
// masked, which garbles a little more text but never shows the value.
func isWordByte(c int) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// byteAt is buf[i], or prev when i is -1 (the byte before buf, noByte at a stream's
// start), or noByte when i is len(buf).
func byteAt(buf []byte, i, prev int) int {
	switch {
	case i < 0:
		return prev
	case i >= len(buf):
		return noByte
	}
	return int(buf[i])
}

// wholeWord reports whether buf[start:end] stands as a whole word: neither the byte
// before it (prev when start is 0) nor the byte after it (none past buf's end) is a
// word byte.
func wholeWord(buf []byte, start, end, prev int) bool {
	return !isWordByte(byteAt(buf, start-1, prev)) && !isWordByte(byteAt(buf, end, prev))
}

// In reports whether text holds f: anywhere, or for a Word form only as a whole word,
// the ends of text counting as boundaries.
func (f Form) In(text []byte) bool {
	if len(f.Bytes) == 0 {
		return false
	}
	for i := 0; i+len(f.Bytes) <= len(text); i++ {
		j := bytes.Index(text[i:], f.Bytes)
		if j < 0 {
			return false
		}
		i += j
		if !f.Word || wholeWord(text, i, i+len(f.Bytes), noByte) {
			return true
		}
	}
	return false
}
