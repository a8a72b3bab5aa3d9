package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// formNames maps each name to its first form (the untrimmed value's).
func formNames(fs []Form) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range fs {
		if _, ok := m[f.Name]; !ok {
			m[f.Name] = f.Bytes
		}
	}
	return m
}

func TestFormsTrimmed(t *testing.T) {
	var found bool
	for _, f := range Forms([]byte("tok3n-value\n")) {
		if f.Name == "base64" && string(f.Bytes) == "dG9rM24tdmFsdWU=" {
			found = true
		}
	}
	if !found {
		t.Error("base64 of the trimmed value is missing")
	}
}

func TestFormsKnownValues(t *testing.T) {
	tests := []struct {
		value string
		name  string
		want  string // "" means the form must be absent
	}{
		{"hunter2!", "raw", "hunter2!"},
		{"hunter2!", "base64", "aHVudGVyMiE="},
		{"hunter2!", "base64-raw", "aHVudGVyMiE"},
		{"hunter2!", "hex", "68756e7465723221"},
		{"hunter2!", "hex-upper", "68756E7465723221"},
		{"a b&c/d", "url", "a+b%26c%2Fd"},
		{"a b&c/d", "url-path", "a%20b&c%2Fd"},
		{"say \"hi\"\n<x>", "json", `say \"hi\"\n<x>`},
		{"say \"hi\"\n<x>", "json-html", `say \"hi\"\n\u003cx\u003e`},
		// The trimmed value's forms come after the untrimmed ones, under the same names,
		// so the first "raw" is the whole value; the trimmed base64 is found by bytes.
		{"tok3n-value\n", "raw", "tok3n-value\n"},
		{"\xfb\xff\xbf\xfe", "base64", "+/+//g=="},
		{"\xfb\xff\xbf\xfe", "base64url", "-_-__g=="},
		// A short value keeps its raw form; encodings under MinSearchable are dropped.
		{"x", "raw", "x"},
		{"x", "hex", ""},
		{"abc", "hex", "616263"},
		{"abc", "base64-core1", ""},
		// Duplicates are dropped: with no padding needed, base64 == base64-raw.
		{"abcdef", "base64-raw", ""},
	}
	for _, tt := range tests {
		got, ok := formNames(Forms([]byte(tt.value)))[tt.name]
		if tt.want == "" {
			if ok {
				t.Errorf("Forms(%q)[%s] = %q, want absent", tt.value, tt.name, got)
			}
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Forms(%q)[%s] = %q, want %q", tt.value, tt.name, got, tt.want)
		}
	}
}

// TestFormsCoreFindsEmbeddedBase64 plants a value at every offset inside a larger blob and
// checks that some core form is a substring of the blob's encoding, whatever surrounds it.
func TestFormsCoreFindsEmbeddedBase64(t *testing.T) {
	for _, value := range [][]byte{[]byte("AKIAIOSFODNN7EXAMPLE-secret"), []byte("AKIAIOSFODNN7EXAMPLE-secret1"),
		[]byte("AKIAIOSFODNN7EXAMPLE-secret12")} {
		embedded(t, value)
	}
}

func embedded(t *testing.T, value []byte) {
	forms := Forms(value)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		for before := 0; before < 7; before++ {
			for after := 0; after < 4; after++ {
				blob := append(bytes.Repeat([]byte{0xA5}, before), value...)
				blob = append(blob, bytes.Repeat([]byte{0x5A}, after)...)
				text := []byte(enc.EncodeToString(blob))
				found := false
				for _, f := range forms {
					if strings.HasPrefix(f.Name, "base64") && bytes.Contains(text, f.Bytes) {
						found = true
					}
				}
				if !found {
					t.Errorf("value at offset %d (+%d after) not found in %s", before, after, text)
				}
			}
		}
	}
}

func TestFormsHexRoundTrip(t *testing.T) {
	value := []byte{0, 1, 2, 0xff, 'z'}
	m := formNames(Forms(value))
	back, err := hex.DecodeString(string(m["hex"]))
	if err != nil || !bytes.Equal(back, value) {
		t.Fatalf("hex form %q does not decode to the value: %v", m["hex"], err)
	}
	if len(Forms(nil)) != 0 {
		t.Error("empty value has forms")
	}
}

// TestShort: a value is short by its length without surrounding white space; only the raw
// forms of a short value are Word forms, its longer encodings are matched anywhere.
func TestShort(t *testing.T) {
	tests := []struct {
		value string
		short bool
	}{
		{"", true}, {"ab", true}, {"abcde", true}, {"abcde\n", true}, {"  \t\n   ", true},
		{"abcdef", false}, {" abcdef\n", false}, {"a b c d", false},
	}
	for _, tt := range tests {
		if got := Short([]byte(tt.value)); got != tt.short {
			t.Errorf("Short(%q) = %v, want %v", tt.value, got, tt.short)
		}
		for _, f := range Forms([]byte(tt.value)) {
			if want := tt.short && f.Name == "raw"; f.Word != want {
				t.Errorf("Forms(%q) %s %q: Word = %v, want %v", tt.value, f.Name, f.Bytes, f.Word, want)
			}
		}
	}
	ids := ShortIDs(map[string][]byte{"pin": []byte("1234"), "tok": []byte("long-token"), "a": nil})
	if strings.Join(ids, ",") != "a,pin" {
		t.Errorf("ShortIDs = %v, want [a pin]", ids)
	}
}

func TestFormIn(t *testing.T) {
	word := Form{Name: "raw", Bytes: []byte("ab"), Word: true}
	anywhere := Form{Name: "raw", Bytes: []byte("ab")}
	tests := []struct {
		f    Form
		text string
		want bool
	}{
		{word, "ab", true}, {word, "x=ab;", true}, {word, "cab about ab", true},
		{word, "about a cab", false}, {word, "ab_", false}, {word, "", false},
		{anywhere, "about", true}, {anywhere, "a b", false},
	}
	for _, tt := range tests {
		if got := tt.f.In([]byte(tt.text)); got != tt.want {
			t.Errorf("%+v.In(%q) = %v, want %v", tt.f, tt.text, got, tt.want)
		}
	}
}
