package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// TestAutomatonAgainstNaive compares every hit with bytes.Index over random inputs drawn
// from a tiny alphabet, so patterns overlap, nest and repeat.
func TestAutomatonAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abc"[r.IntN(3)]
		}
		return b
	}
	for round := 0; round < 200; round++ {
		var pats [][]byte
		for i := 0; i < 1+r.IntN(8); i++ {
			pats = append(pats, word(1+r.IntN(5)))
		}
		text := word(300)
		a, ok := newAutomaton(pats)
		if !ok {
			t.Fatal("building automaton")
		}
		var got []string
		split := r.IntN(len(text))
		state := a.scan(0, text[:split], func(p int32, end int) {
			got = append(got, string(rune('0'+p))+":"+itoa(end-len(pats[p])))
		})
		a.scan(state, text[split:], func(p int32, end int) {
			got = append(got, string(rune('0'+p))+":"+itoa(split+end-len(pats[p])))
		})
		var want []string
		for pi, p := range pats {
			for i := 0; i+len(p) <= len(text); i++ {
				if bytes.Equal(text[i:i+len(p)], p) {
					want = append(want, string(rune('0'+pi))+":"+itoa(i))
				}
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("round %d: patterns %q\n got %v\nwant %v", round, pats, got, want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestStreamBoundaries finds a value at every offset around read boundaries, for several
// buffer sizes and with sources returning one byte or half the request at a time.
func TestStreamBoundaries(t *testing.T) {
	secret := []byte("s3cr3t-VALUE")
	m, err := newMatcher(map[string][]byte{"s": secret}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bufSize := range []int{1, 5, 64, 4096} {
		for _, wrap := range []struct {
			name string
			f    func(io.Reader) io.Reader
		}{{"full", func(r io.Reader) io.Reader { return r }}, {"onebyte", iotest.OneByteReader}, {"half", iotest.HalfReader}} {
			for at := 0; at < 3*len(secret)+bufSize && at < 200; at++ {
				data := make([]byte, 300)
				copy(data[at:], secret)
				st := newStream(context.Background(), wrap.f(bytes.NewReader(data)), m, bufSize)
				if err := st.drain(); err != nil {
					t.Fatal(err)
				}
				if len(st.hits) != 1 || st.hits[0].start != int64(at) {
					t.Fatalf("buf %d %s at %d: hits %+v", bufSize, wrap.name, at, st.hits)
				}
			}
		}
	}
}

// TestFormsBase64Core checks that the core of each alignment occurs in the encoding of
// any blob holding the value at that alignment, for both alphabets.
func TestFormsBase64Core(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 1; n < 40; n++ {
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		// No white space at the ends: the trimmed value's forms would share the names.
		v[0], v[n-1] = 'x', 'y'
		forms := map[string][]byte{}
		for _, f := range Forms(v) {
			forms[f.Name] = f.Bytes
		}
		for prefix := 0; prefix < 7; prefix++ {
			for suffix := 0; suffix < 4; suffix++ {
				blob := make([]byte, prefix+n+suffix)
				for i := range blob {
					blob[i] = byte(r.Uint32())
				}
				copy(blob[prefix:], v)
				for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
					core := forms[name+"-core"+itoa(prefix%3)]
					if core == nil {
						continue // shorter than secret.MinSearchable
					}
					if s := enc.EncodeToString(blob); !strings.Contains(s, string(core)) {
						t.Fatalf("len %d prefix %d suffix %d: %s core not in %s", n, prefix, suffix, name, s)
					}
				}
			}
		}
	}
}

func TestFormsVectors(t *testing.T) {
	got := map[string]string{}
	for _, f := range Forms([]byte("a/b c\"d\n")) {
		if _, dup := got[f.Name]; !dup {
			got[f.Name] = string(f.Bytes)
		}
	}
	want := map[string]string{
		"raw":       "a/b c\"d\n",
		"hex":       "612f6220632264 0a"[:14] + "0a",
		"hex-upper": "612F62206322640A",
		"url":       "a%2Fb+c%22d%0A",
		"url-path":  "a%2Fb%20c%22d%0A",
		"json":      `a/b c\"d\n`,
		"base64":    "YS9iIGMiZAo=",
		"base64url": "YS9iIGMiZAo=",
	}
	for name, w := range want {
		if name == "base64url" { // equal to base64 for this value, so deduplicated away
			if _, ok := got[name]; ok {
				t.Errorf("base64url should be deduplicated")
			}
			continue
		}
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
	if len(Forms(nil)) != 0 {
		t.Errorf("empty value has forms")
	}
}
