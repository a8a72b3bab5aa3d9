package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
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

// HeadLen is how many leading bytes of each form Encodings keeps in memory. A form of up
// to HeadLen bytes is held whole; a longer one is produced on demand by its reader, so a
// value of any size (MaxSize is 16 MiB) costs HeadLen bytes per form plus the value.
const HeadLen = 256

// Encoding is one form of a value (see Encodings): its name, its first HeadLen bytes
// (Head, the whole form when Whole) and a way to stream all of it. It refers to the value
// it was made from: it must not be used after the value is wiped.
type Encoding struct {
	Name  string
	Head  []byte
	Whole bool
	// Word is set on the raw forms of a Short value (see Form).
	Word bool
	src  source
	n    int // the form's length, once known (0: not yet)
}

// length is the form's length, computed once.
func (e *Encoding) length() int {
	if e.n == 0 {
		e.n = e.src.length()
	}
	return e.n
}

// Open streams the whole form from its first byte.
func (e *Encoding) Open() *FormReader { return e.src.open() }

// Wipe zeroes the held head; the value is the caller's to wipe.
func (e *Encoding) Wipe() { clear(e.Head) }

// In reports whether text holds the whole form (for a Word form only as a whole word,
// the ends of text counting as boundaries).
func (e *Encoding) In(text []byte) bool {
	if e.Whole {
		return Form{Name: e.Name, Bytes: e.Head, Word: e.Word}.In(text)
	}
	for i := 0; i < len(text); i++ {
		j := bytes.Index(text[i:], e.Head)
		if j < 0 {
			return false
		}
		i += j
		if MatchLen(e.Open(), text[i:]) < 0 {
			return true
		}
	}
	return false
}

// MatchLen compares the form r streams with data from their starts. It returns -1 when
// the whole form matched (data may go on), else how many leading bytes of data matched
// before a difference or data's end. It closes r.
func MatchLen(r *FormReader, data []byte) int {
	defer r.Close()
	var buf [512]byte
	n := 0
	for {
		k, err := r.Read(buf[:])
		if k == 0 && err != nil {
			clear(buf[:])
			return -1
		}
		m := commonPrefix(buf[:k], data[n:])
		n += m
		if m < k {
			clear(buf[:])
			return n
		}
	}
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// Encodings returns every form of value that hush searches for (audit) and masks
// (Redactor), in this order:
//
//	raw, hex, hex-upper, url, url-path, json, json-html,
//	base64, base64-raw, base64-core0, base64-core1, base64-core2,
//	base64url, base64url-raw, base64url-core0, base64url-core1, base64url-core2
//
// the raw bytes, hex (lower and upper), URL query and path escaping, JSON string escaping
// (without and with Go's HTML escaping), and base64 in the standard and URL-safe
// alphabets, padded and unpadded, plus for each alphabet the stable core of the value
// embedded at byte offset 0, 1 or 2 (mod 3) of a larger base64-encoded blob.
//
// When value has leading or trailing white space (a secret file ending in a newline), the
// forms of the trimmed value are included too, under the same names: programs often print
// a token without the newline of the file it came from. Forms are deduplicated by bytes,
// the first name winning; encoded forms shorter than MinSearchable are left out (the raw
// forms never are: a Short value's raw forms are marked Word instead). An empty value
// has no forms. Every head is as secret as the value.
func Encodings(value []byte) []Encoding {
	var out []Encoding
	short := Short(value)
	facts := &valueFacts{}
	add := func(name string, src source, derived bool) {
		e := Encoding{Name: name, Word: short && !derived, src: src}
		r := src.open()
		head := make([]byte, HeadLen+1)
		n, _ := io.ReadFull(r, head)
		r.Close()
		e.Head, e.Whole = head[:min(n, HeadLen)], n <= HeadLen
		if n == 0 || (derived && e.Whole && n < MinSearchable) ||
			facts.repeats(out, &e) {
			clear(head)
			return
		}
		out = append(out, e)
	}
	variants := [][]byte{value}
	if t := bytes.TrimSpace(value); len(t) > 0 && len(t) != len(value) {
		variants = append(variants, t)
	}
	for _, v := range variants {
		add("raw", source{kind: kindRaw, value: v}, false)
	}
	query, path := urlEscapes(true), urlEscapes(false)
	for _, v := range variants {
		add("hex", source{kind: kindHex, value: v}, true)
		add("hex-upper", source{kind: kindHexUpper, value: v}, true)
		add("url", source{kind: kindURL, value: v, esc: query}, true)
		add("url-path", source{kind: kindURLPath, value: v, esc: path}, true)
		add("json", source{kind: kindJSON, value: v}, true)
		add("json-html", source{kind: kindJSONHTML, value: v}, true)
		for _, a := range []struct {
			name string
			enc  *base64.Encoding
		}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
			b64 := source{kind: kindBase64, value: v, enc: a.enc}
			add(a.name, withMode(b64, b64Padded, 0), true)
			add(a.name+"-raw", withMode(b64, b64Raw, 0), true)
			for shift := 0; shift < 3; shift++ {
				add(a.name+"-core"+strconv.Itoa(shift), withMode(b64, b64Core, shift), true)
			}
		}
	}
	return out
}

func withMode(src source, mode b64Mode, shift int) source {
	src.mode, src.shift = mode, shift
	return src
}

// Forms returns the forms of Encodings whole, for values known to be small (the bytes
// of every form of a 16 MiB value would take some 600 MiB; hush's audit and masking use
// Encodings). Every returned byte slice is as secret as the value.
func Forms(value []byte) []Form {
	var out []Form
	for _, e := range Encodings(value) {
		b := e.Head
		if !e.Whole {
			r := e.Open()
			b, _ = io.ReadAll(r)
			r.Close()
			e.Wipe()
		}
		out = append(out, Form{Name: e.Name, Bytes: b, Word: e.Word})
	}
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
