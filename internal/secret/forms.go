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
// Word is set on the raw forms of a Short value: they are matched only where they stand
// as a whole word (see In), never inside one.
type Form struct {
	Name  string
	Bytes []byte
	Word  bool
}

// MinSearchable is the fewest bytes a secret value (leading and trailing white space
// aside) or an encoded form of one needs to be searched for and masked wherever it
// occurs. Shorter byte strings occur by chance in ordinary output and binaries: a random
// token of n letters and digits is one of 62^n, so a GiB of text-like bytes (2^30
// positions) holds about 2^30/62^n chance occurrences of it — some 70 at n = 4, about 1
// at n = 5, and 1 in 50 at n = 6. Real short secrets are worse than random ("admin",
// "1234" are ordinary words). From 6 bytes on, a hit is evidence of the value; below it,
// it is noise, so such values are not audited and are masked only as whole words.
const MinSearchable = 6

// Short reports whether value is too short to search for or mask anywhere: fewer than
// MinSearchable bytes once leading and trailing white space is trimmed. The audit skips
// such values, output masks their raw bytes only where they stand as a whole word, and
// hush warns about them by id.
func Short(value []byte) bool { return len(bytes.TrimSpace(value)) < MinSearchable }

// ShortIDs returns, sorted, the ids of values (id → value) that are Short.
func ShortIDs(values map[string][]byte) []string {
	var ids []string
	for id, v := range values {
		if Short(v) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

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
// the first name winning; encoded forms shorter than MinSearchable are left out (the raw
// forms never are: a Short value's raw forms are marked Word instead). An empty value
// has no forms. Every returned byte slice is as secret as the value.
func Forms(value []byte) []Form {
	var out []Form
	short := Short(value)
	add := func(name string, b []byte, derived bool) {
		// No map for deduplication: its string keys would be copies that cannot be zeroed.
		if len(b) == 0 || (derived && len(b) < MinSearchable) ||
			slices.ContainsFunc(out, func(f Form) bool { return bytes.Equal(f.Bytes, b) }) {
			clear(b)
			return
		}
		out = append(out, Form{Name: name, Bytes: b, Word: short && !derived})
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
