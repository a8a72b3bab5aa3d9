package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
)

// Form is one encoding of a secret value, as it could appear in an image or a log.
type Form struct {
	// Name is the encoding, e.g. "raw", "hex", "base64", "base64-core1" (see
	// docs/spec/audit-report.md for the list).
	Name string
	// Bytes is the encoded value. It is as secret as the value itself.
	Bytes []byte
}

// minFormLen is the shortest derived form Forms returns: shorter base64 cores match by
// chance in any large blob.
const minFormLen = 6

// Forms lists the encodings of value that hush searches for and masks: the raw bytes, hex
// (lower and upper), URL query and path escaping, JSON string escaping (with and without
// Go's HTML escaping), and base64 in the standard and URL-safe alphabets, padded and
// unpadded, plus for each alphabet the stable core of the value embedded at byte offset
// 0, 1 or 2 (mod 3) of a larger base64-encoded blob. When value has leading or trailing
// white space (a secret file ending in a newline), the forms of the trimmed value are
// included too. Forms are deduplicated by bytes, the first name winning; derived forms
// shorter than 6 bytes are left out. An empty value has no forms.
func Forms(value []byte) []Form {
	var out []Form
	seen := map[string]bool{}
	add := func(name string, b []byte, derived bool) {
		if len(b) == 0 || (derived && len(b) < minFormLen) || seen[string(b)] {
			return
		}
		seen[string(b)] = true
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
		add("hex", []byte(hex.EncodeToString(v)), true)
		add("hex-upper", bytes.ToUpper([]byte(hex.EncodeToString(v))), true)
		add("url", []byte(url.QueryEscape(string(v))), true)
		add("url-path", []byte(url.PathEscape(string(v))), true)
		add("json", jsonEscape(v, false), true)
		add("json-html", jsonEscape(v, true), true)
		for _, enc := range []struct {
			name     string
			pad, raw *base64.Encoding
		}{
			{"base64", base64.StdEncoding, base64.RawStdEncoding},
			{"base64url", base64.URLEncoding, base64.RawURLEncoding},
		} {
			add(enc.name, []byte(enc.pad.EncodeToString(v)), true)
			add(enc.name+"-raw", []byte(enc.raw.EncodeToString(v)), true)
			for shift := 0; shift < 3; shift++ {
				add(enc.name+"-core"+strconv.Itoa(shift), base64Core(enc.raw, v, shift), true)
			}
		}
	}
	return out
}

// base64Core returns the base64 characters that depend only on v when v starts at a
// byte offset ≡ shift (mod 3) of a larger encoded blob: characters mixing in bits of the
// bytes before or after v are dropped.
func base64Core(enc *base64.Encoding, v []byte, shift int) []byte {
	padded := make([]byte, shift+len(v))
	copy(padded[shift:], v)
	s := enc.EncodeToString(padded)
	lo, hi := shift*8, (shift+len(v))*8
	first := (lo + 5) / 6 // first character whose 6 bits start at or after lo
	last := hi / 6        // characters before this one end at or before hi
	if first >= last || last > len(s) {
		return nil
	}
	return []byte(s[first:last])
}

// jsonEscape returns v as the inside of a JSON string (without the quotes).
func jsonEscape(v []byte, html bool) []byte {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(html)
	if err := e.Encode(string(v)); err != nil {
		return nil
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) < 2 {
		return nil
	}
	return b[1 : len(b)-1]
}

// matchForms is Forms without any form that contains another form of the same value:
// the matcher finds the contained one anyway, and one hit per place is enough.
func matchForms(value []byte) []Form {
	all := Forms(value)
	var out []Form
	for i, f := range all {
		redundant := false
		for j, g := range all {
			if i != j && len(g.Bytes) < len(f.Bytes) && bytes.Contains(f.Bytes, g.Bytes) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, f)
		}
	}
	return out
}
