package secret

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/url"
	"unicode/utf8"
)

// formKind says how a form is made from a value.
type formKind uint8

const (
	kindRaw formKind = iota
	kindHex
	kindHexUpper
	kindURL
	kindURLPath
	kindJSON
	kindJSONHTML
	kindBase64 // see source.b64
)

// b64Mode says which characters of a base64 encoding a form is.
type b64Mode uint8

const (
	b64Padded b64Mode = iota // the whole value, padded with '='
	b64Raw                   // the whole value, unpadded
	b64Core                  // the characters that depend only on the value at a shift
)

// source makes one form of one value. Every kind is concatenative over the chunks next
// splits a value into: the form of the whole value is the forms of the chunks in order,
// so a form of any size is produced in bounded memory.
type source struct {
	kind  formKind
	value []byte
	enc   *base64.Encoding // unpadded alphabet, for kindBase64
	mode  b64Mode
	shift int          // bytes before the value in the encoded stream (b64Core)
	esc   *[256][]byte // per-byte escapes, for kindURL and kindURLPath
}

// chunkBytes is how much of a value one step of a FormReader encodes (a multiple of 3,
// so base64 chunks end on block boundaries).
const chunkBytes = 3 << 10

// FormReader streams one form of a value from its first byte; it holds one encoded chunk
// (at most 6 × 3 KiB) whatever the value's size. Its buffer is as secret as the value:
// Close zeroes it.
type FormReader struct {
	src  source
	next int // value offset (or, for base64, encoded-stream byte offset) of the next chunk
	buf  []byte
	off  int
	done bool
}

// open returns a reader of the form src makes.
func (src source) open() *FormReader { return &FormReader{src: src} }

// Read fills p with the next bytes of the form; it returns io.EOF at the form's end.
func (r *FormReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.off == len(r.buf) {
			if r.done {
				break
			}
			r.fill()
			continue
		}
		c := copy(p[n:], r.buf[r.off:])
		r.off += c
		n += c
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Close zeroes the reader's buffer; the reader must not be used afterwards.
func (r *FormReader) Close() {
	clear(r.buf[:cap(r.buf)])
	r.buf, r.off, r.done = nil, 0, true
}

// fill encodes the next chunk into buf.
func (r *FormReader) fill() {
	clear(r.buf[:cap(r.buf)])
	r.buf, r.off = r.buf[:0], 0
	if r.src.kind == kindBase64 {
		r.fillBase64()
		return
	}
	v := r.src.value
	if r.next >= len(v) {
		r.done = true
		return
	}
	end := min(r.next+chunkBytes, len(v))
	if r.src.kind == kindJSON || r.src.kind == kindJSONHTML {
		end = runeBoundary(v, r.next, end)
	}
	r.buf = r.src.appendChunk(r.buf, v[r.next:end])
	r.next = end
}

// appendChunk appends the form of chunk (a whole chunk for JSON: see runeBoundary).
func (src source) appendChunk(dst, chunk []byte) []byte {
	switch src.kind {
	case kindRaw:
		return append(dst, chunk...)
	case kindHex, kindHexUpper:
		n := len(dst)
		dst = append(dst, make([]byte, hex.EncodedLen(len(chunk)))...)
		hex.Encode(dst[n:], chunk)
		if src.kind == kindHexUpper {
			for i := n; i < len(dst); i++ {
				if c := dst[i]; 'a' <= c && c <= 'f' {
					dst[i] = c - 'a' + 'A'
				}
			}
		}
		return dst
	case kindURL, kindURLPath:
		for _, c := range chunk {
			dst = append(dst, src.esc[c]...)
		}
		return dst
	case kindJSON, kindJSONHTML:
		return append(dst, jsonString(chunk, src.kind == kindJSONHTML)...)
	}
	return dst
}

// runeBoundary moves end back (by at most 3 bytes) to where no UTF-8 sequence of v
// spans it, so JSON escaping (which replaces each invalid byte by \ufffd) gives the same
// bytes for the chunks as for the whole value. At v's end it returns end.
func runeBoundary(v []byte, start, end int) int {
	if end >= len(v) {
		return end
	}
	for j := end; j > start && j > end-4; j-- {
		if utf8.RuneStart(v[j]) {
			return j
		}
	}
	// Three continuation bytes before end: no valid sequence reaches end from before.
	return end
}

// urlEscapes is the per-byte table of url.QueryEscape (query) or url.PathEscape: both
// escape byte by byte, so the table reproduces them exactly.
func urlEscapes(query bool) *[256][]byte {
	var t [256][]byte
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		if query {
			t[c] = []byte(url.QueryEscape(s))
		} else {
			t[c] = []byte(url.PathEscape(s))
		}
	}
	return &t
}

// length is the form's length in bytes.
func (src source) length() int {
	switch src.kind {
	case kindRaw:
		return len(src.value)
	case kindHex, kindHexUpper:
		return 2 * len(src.value)
	case kindURL, kindURLPath:
		n := 0
		for _, c := range src.value {
			n += len(src.esc[c])
		}
		return n
	case kindBase64:
		_, first, end := src.b64Bounds()
		if src.mode == b64Padded {
			end += (4 - end%4) % 4
		}
		return max(end-first, 0)
	case kindJSON, kindJSONHTML:
		return jsonLen(src.value, src.kind == kindJSONHTML)
	}
	return -1
}

// jsonLen is the length of Go's JSON string escaping of v (without the quotes): two
// bytes for \", \\, \b, \f, \n, \r, \t; six for other control bytes, for <, >, & with
// html, for each invalid UTF-8 byte (\ufffd) and for U+2028 and U+2029; a rune's own
// size otherwise. TestSourceLength checks it against the encoder.
func jsonLen(v []byte, html bool) int {
	var ascii [utf8.RuneSelf]uint8
	for c := range ascii {
		switch {
		case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			ascii[c] = 2
		case c < 0x20 || html && (c == '<' || c == '>' || c == '&'):
			ascii[c] = 6
		default:
			ascii[c] = 1
		}
	}
	n := 0
	for i := 0; i < len(v); {
		if c := v[i]; c < utf8.RuneSelf {
			n += int(ascii[c])
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}

// b64Bounds returns, for a base64 source, the length of its encoded stream's bytes
// (shift zero bytes then the value) and the range [first, end) of characters that the
// form is, padding aside.
func (src source) b64Bounds() (m, first, end int) {
	m = src.shift + len(src.value)
	switch src.mode {
	case b64Core:
		return m, (8*src.shift + 5) / 6, 8 * m / 6
	default:
		return m, 0, (8*m + 5) / 6
	}
}

// fillBase64 encodes the next run of whole 3-byte blocks of the stream; r.next is the
// stream offset of the first block not yet encoded.
func (r *FormReader) fillBase64() {
	src := r.src
	m, first, end := src.b64Bounds()
	if r.next >= m {
		if src.mode == b64Padded && r.next < m+1 { // padding, once
			if pad := (4 - end%4) % 4; pad > 0 {
				r.buf = append(r.buf, "=="[:pad]...)
			}
			r.next = m + 1
			return
		}
		r.done = true
		return
	}
	b0 := r.next
	b1 := min(b0+chunkBytes, m)
	var in []byte
	if b0 < src.shift { // the first block holds the leading zero bytes
		in = make([]byte, b1-b0)
		copy(in[src.shift-b0:], src.value[:b1-src.shift])
	} else {
		in = src.value[b0-src.shift : b1-src.shift]
	}
	c0 := 4 * b0 / 3 // character index of the chunk's first character
	enc := make([]byte, src.enc.EncodedLen(len(in)))
	src.enc.Encode(enc, in)
	if b0 < src.shift {
		clear(in)
	}
	lo, hi := max(first-c0, 0), min(end-c0, len(enc))
	if lo < hi {
		r.buf = append(r.buf, enc[lo:hi]...)
	}
	clear(enc)
	r.next = b1
	if b1 == m && src.mode != b64Padded {
		r.next = m + 1
	}
}
