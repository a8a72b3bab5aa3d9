package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
)

// Form is one way a secret value can appear in bytes: the value itself or one of its
// encodings. Name says which (see Forms); Bytes is the exact byte string to look for.
type Form struct {
	Name  string
	Bytes []byte
}

// MinFormLen is the shortest encoded form Forms returns: shorter base64 cores match by
// chance in any large blob or log. The raw form is always returned, whatever its length.
// (Same rule and names as internal/audit, whose report spec lists them.)
const MinFormLen = 6

// Forms returns every form of value that hush searches for (audit) and masks (Redactor):
// the raw bytes, hex (lower and upper), URL query and path escaping, JSON string escaping
// (without and with Go's HTML escaping), and base64 in the standard and URL-safe
// alphabets, padded and unpadded, plus for each alphabet the stable core of the value
// embedded at byte offset 0, 1 or 2 (mod 3) of a larger base64-encoded blob:
//
//	raw, hex, hex-upper, url, url-path, json, json-html,
//	base64, base64-raw, base64-core0, base64-core1, base64-core2,
//	base64url, base64url-raw, base64url-core0, base64url-core1, base64url-core2
//
// When value has leading or trailing white space (a secret file ending in a newline), the
// forms of the trimmed value are included too, under the same names: programs often print
// a token without the newline of the file it came from. Forms are deduplicated by bytes,
// the first name winning; encoded forms shorter than MinFormLen are left out. An empty
// value has no forms. Every returned byte slice is as secret as the value.
func Forms(value []byte) []Form {
	var out []Form
	add := func(name string, b []byte, derived bool) {
		// No map for deduplication: its string keys would be copies that cannot be zeroed.
		if len(b) == 0 || (derived && len(b) < MinFormLen) ||
			slices.ContainsFunc(out, func(f Form) bool { return bytes.Equal(f.Bytes, b) }) {
			clear(b)
			return
		}
		out = append(out, Form{Name: name, Bytes: b})
	}
	variants := [][]byte{value}
	if t := bytes.TrimSpace(value); len(t) > 0 && len(t) != len(value) {
		variants = append(variants, t)
	}
	for _, v := range variants {
		add("raw", bytes.Clone(v), false)
	}
	for _, v := range variants {
		h := make([]byte, hex.EncodedLen(len(v)))
		hex.Encode(h, v)
		upper := bytes.ToUpper(h)
		add("hex", h, true)
		add("hex-upper", upper, true)
		add("url", []byte(url.QueryEscape(string(v))), true)
		add("url-path", []byte(url.PathEscape(string(v))), true)
		add("json", jsonString(v, false), true)
		add("json-html", jsonString(v, true), true)
		for _, enc := range []struct {
			name     string
			pad, raw *base64.Encoding
		}{
			{"base64", base64.StdEncoding, base64.RawStdEncoding},
			{"base64url", base64.URLEncoding, base64.RawURLEncoding},
		} {
			add(enc.name, encodeBytes(enc.pad, v), true)
			add(enc.name+"-raw", encodeBytes(enc.raw, v), true)
			for shift := 0; shift < 3; shift++ {
				add(enc.name+"-core"+strconv.Itoa(shift), core(enc.raw, v, shift), true)
			}
		}
	}
	return out
}

func encodeBytes(enc *base64.Encoding, v []byte) []byte {
	b := make([]byte, enc.EncodedLen(len(v)))
	enc.Encode(b, v)
	return b
}

// core returns the base64 characters that depend only on v when v starts shift bytes
// into the encoded stream: character i covers stream bits [6i, 6i+6), and v covers bits
// [8*shift, 8*(shift+len(v))).
func core(enc *base64.Encoding, v []byte, shift int) []byte {
	buf := make([]byte, shift+len(v))
	copy(buf[shift:], v)
	s := make([]byte, enc.EncodedLen(len(buf)))
	enc.Encode(s, buf)
	clear(buf)
	first := (8*shift + 5) / 6
	last := 8 * (shift + len(v)) / 6 // exclusive
	if last <= first {
		clear(s)
		return nil
	}
	out := append([]byte(nil), s[first:last]...)
	clear(s)
	return out
}

// jsonString is v as the inside of a JSON string literal.
func jsonString(v []byte, escapeHTML bool) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(escapeHTML)
	if err := e.Encode(string(v)); err != nil {
		return nil
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) < 2 {
		return nil
	}
	return append([]byte(nil), out[1:len(out)-1]...)
}
