package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wholeForms is the reference: every form made from the whole value at once with the
// standard library, as hush did before forms were streamed.
func wholeForms(v []byte) map[string][]byte {
	m := map[string][]byte{
		"raw":       v,
		"hex":       []byte(hex.EncodeToString(v)),
		"hex-upper": []byte(strings.ToUpper(hex.EncodeToString(v))),
		"url":       []byte(url.QueryEscape(string(v))),
		"url-path":  []byte(url.PathEscape(string(v))),
		"json":      jsonString(v, false),
		"json-html": jsonString(v, true),
	}
	for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
		m[name] = []byte(enc.EncodeToString(v))
		m[name+"-raw"] = []byte(enc.WithPadding(base64.NoPadding).EncodeToString(v))
		for shift := 0; shift < 3; shift++ {
			s := enc.EncodeToString(append(make([]byte, shift), v...))
			first, last := (8*shift+5)/6, 8*(shift+len(v))/6
			if last > first {
				m[name+"-core"+strconv.Itoa(shift)] = []byte(s[first:last])
			}
		}
	}
	return m
}

// TestEncodingsStreamEqualsWhole: every streamed form equals the form of the whole value,
// for values around HeadLen and the chunk size, with multi-byte and invalid UTF-8 placed
// across chunk boundaries (JSON escapes per rune) and bytes that URL escaping changes.
func TestEncodingsStreamEqualsWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"a", "Z", "9", " ", "/", "+", "&", "<", "\"", "\\", "\n", "\x00", "é", "€", "😀", "\u2028", "\xff", "\x80", "\xe2\x82"}
	for _, n := range []int{6, 7, 8, 200, 255, 256, 257, 300, chunkBytes - 2, chunkBytes, chunkBytes + 1, 3*chunkBytes + 5, 20000} {
		for round := 0; round < 4; round++ {
			var b bytes.Buffer
			for b.Len() < n {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
			v := b.Bytes()
			v[0], v[len(v)-1] = 'x', 'y' // no trimmed variant: names stay unique
			want := wholeForms(v)
			seen := map[string]bool{}
			for _, e := range Encodings(v) {
				seen[e.Name] = true
				rd := e.Open()
				got, _ := io.ReadAll(rd)
				rd.Close()
				if !bytes.Equal(got, want[e.Name]) {
					t.Fatalf("len %d: %s streamed differs from the whole value's form (%d vs %d bytes)", len(v), e.Name, len(got), len(want[e.Name]))
				}
				if e.Whole != (len(got) <= HeadLen) || !bytes.HasPrefix(got, e.Head) || len(e.Head) != min(len(got), HeadLen) {
					t.Fatalf("len %d: %s head %d bytes, whole %v, form %d bytes", len(v), e.Name, len(e.Head), e.Whole, len(got))
				}
			}
			// Every distinct reference form is present under its first name.
			for name, f := range want {
				if seen[name] || len(f) < MinSearchable {
					continue
				}
				dup := false
				for other := range seen {
					dup = dup || bytes.Equal(want[other], f)
				}
				if !dup {
					t.Fatalf("len %d: form %s missing", len(v), name)
				}
			}
		}
	}
}

// TestEncodingIn finds a long form only whole.
func TestEncodingIn(t *testing.T) {
	v := bytes.Repeat([]byte("0123456789abcdef"), 100) // 1600 bytes
	var raw Encoding
	for _, e := range Encodings(v) {
		if e.Name == "raw" {
			raw = e
		}
	}
	if raw.Whole {
		t.Fatal("a 1600-byte raw form should not be held whole")
	}
	text := append(append([]byte("x="), v...), ';')
	if !raw.In(text) {
		t.Error("whole copy not found")
	}
	if raw.In(text[:len(text)-2]) {
		t.Error("a copy missing its last byte was found")
	}
}

// TestSourceLength: the computed length of every form equals its streamed length.
func TestSourceLength(t *testing.T) {
	for _, v := range [][]byte{[]byte("abcdefg"), bytes.Repeat([]byte("a b/c+d\xff"), 100),
		[]byte("\"\\\b\f\n\r\t\x01\x1f<>&\x7f é€😀\u2028\u2029\xe2\x82 \xff\x80x")} {
		for _, e := range Encodings(v) {
			rd := e.Open()
			got, _ := io.ReadAll(rd)
			rd.Close()
			if n := e.src.length(); n != len(got) {
				t.Errorf("len %d: %s length %d, streamed %d", len(v), e.Name, n, len(got))
			}
		}
	}
}

// TestEncodingsDeduplicateLongForms: forms of a long value that are the same bytes are
// listed once under the first name, as for short values, whether the kinds tell it
// (JSON or URL escaping that changes nothing, hex without letters, base64 without '+'
// or '/', whole blocks) or a comparison must; forms that differ are all kept.
func TestEncodingsDeduplicateLongForms(t *testing.T) {
	for _, v := range [][]byte{
		bytes.Repeat([]byte("plainToken123"), 100),         // raw = url = url-path = json = json-html
		bytes.Repeat([]byte("0123456789"), 90),             // hex = hex-upper; 900 bytes: whole blocks
		bytes.Repeat([]byte("aaa"), 200),                   // base64 = base64url
		bytes.Repeat([]byte("a<b>&\"c\\\n\xff\u2028"), 60), // everything differs
		append(bytes.Repeat([]byte("x"), 600), '\n'),       // a trimmed variant
		// 602 bytes: the trimmed value's unpadded base64 is as long as the value's core0,
		// equal after a newline (whose high bits are 0), not after a space ('?' puts '/'
		// in the standard alphabet, so no URL-alphabet form stands in for a lost one).
		append(bytes.Repeat([]byte("ab?"), 200), "a\n"...),
		append(bytes.Repeat([]byte("ab?"), 200), "a "...),
		// The same heads, different later: each rule must look past the head.
		append(bytes.Repeat([]byte("aaa"), 200), "\xfb\xff\xbf\"<&"...),
		append(bytes.Repeat([]byte("0123456789"), 60), "\xab "...),
	} {
		es := Encodings(v)
		var forms [][]byte
		for _, e := range es {
			rd := e.Open()
			b, _ := io.ReadAll(rd)
			rd.Close()
			for i, f := range forms {
				if bytes.Equal(f, b) {
					t.Errorf("%.20q…: %s repeats %s", v, e.Name, es[i].Name)
				}
			}
			forms = append(forms, b)
		}
		want := wholeForms(v)
		if t2 := bytes.TrimSpace(v); len(t2) != len(v) {
			// Every form of both variants is there, by bytes.
			for _, ref := range []map[string][]byte{want, wholeForms(t2)} {
				for name, f := range ref {
					if !slices.ContainsFunc(forms, func(b []byte) bool { return bytes.Equal(b, f) }) {
						t.Errorf("%.20q…: a form %s is missing", v, name)
					}
				}
			}
			continue
		}
		distinct := map[string]bool{}
		for _, f := range want {
			distinct[string(f)] = true
		}
		if len(forms) != len(distinct) {
			t.Errorf("%.20q…: %d forms, want the %d distinct ones", v, len(forms), len(distinct))
		}
	}
}

// TestASCIISpecial: telling from an ASCII value's bytes whether its base64 at a shift
// holds '+' or '/' agrees with encoding it, for random values over bytes that make
// those characters and bytes that do not.
func TestASCIISpecial(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	for round := 0; round < 2000; round++ {
		v := make([]byte, 1+r.IntN(12))
		for i := range v {
			v[i] = "ab?>~\x7fz0 "[r.IntN(9)]
		}
		found, ok := asciiSpecial(v)
		if !ok {
			t.Fatalf("%q: not taken as ASCII", v)
		}
		for shift := 0; shift < 3; shift++ {
			enc := base64.StdEncoding.EncodeToString(append(make([]byte, shift), v...))
			first, end := (8*shift+5)/6, (8*(shift+len(v))+5)/6
			if want := strings.ContainsAny(enc[first:end], "+/"); found[shift] != want {
				t.Fatalf("%q at shift %d: %v, want %v (%s)", v, shift, found[shift], want, enc)
			}
		}
	}
	if _, ok := asciiSpecial([]byte("é")); ok {
		t.Error("a non-ASCII value taken as ASCII")
	}
}
