package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// reference masks in one shot, by brute force: every byte covered by any occurrence of
// any form (of a Word form, one with no ASCII letter, digit or '_' right before or after
// it) is masked, each maximal covered run becoming one Mask.
func reference(input []byte, values [][]byte) []byte {
	covered := make([]bool, len(input))
	word := func(i int) bool {
		if i < 0 || i >= len(input) {
			return false
		}
		c := input[i]
		return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	for _, v := range values {
		for _, f := range Forms(v) {
			for i := 0; i+len(f.Bytes) <= len(input); i++ {
				if f.Word && (word(i-1) || word(i+len(f.Bytes))) {
					continue
				}
				if bytes.Equal(input[i:i+len(f.Bytes)], f.Bytes) {
					for j := i; j < i+len(f.Bytes); j++ {
						covered[j] = true
					}
				}
			}
		}
	}
	var out []byte
	for i := 0; i < len(input); i++ {
		if !covered[i] {
			out = append(out, input[i])
			continue
		}
		out = append(out, Mask...)
		for i+1 < len(input) && covered[i+1] {
			i++
		}
	}
	return out
}

// redactChunks writes input through a Redactor in chunks of the given sizes (cycled).
func redactChunks(t testing.TB, input []byte, values [][]byte, sizes []int) []byte {
	var buf bytes.Buffer
	r := NewRedactor(&buf, values)
	for i, k := 0, 0; i < len(input); k++ {
		n := 1
		if len(sizes) > 0 {
			n = max(sizes[k%len(sizes)], 1)
		}
		n = min(n, len(input)-i)
		if _, err := r.Write(input[i : i+n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		i += n
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func TestRedactor(t *testing.T) {
	tok := "ghp_s3cretT0kenValue"
	b64 := base64.StdEncoding.EncodeToString([]byte(tok))
	tests := []struct {
		name   string
		values []string
		input  string
		want   string
	}{
		{"no secrets", nil, "hello\nworld\n", "hello\nworld\n"},
		{"raw", []string{tok}, "token=" + tok + "\n", "token=****\n"},
		{"twice", []string{tok}, tok + " and " + tok, "**** and ****"},
		{"base64", []string{tok}, "Authorization: Basic " + b64 + "\n", "Authorization: Basic ****\n"},
		{"base64 embedded", []string{tok}, base64.StdEncoding.EncodeToString([]byte("user:" + tok + ":x")), ""},
		{"hex", []string{tok}, fmt.Sprintf("%x", tok), "****"},
		{"json", []string{`pa"ss\word`}, `{"p":"pa\"ss\\word"}`, `{"p":"****"}`},
		{"url", []string{"p@ss w/rd"}, "https://u:p%40ss+w%2Frd@host", "https://u:****@host"},
		{"trailing newline trimmed", []string{"filetoken\n"}, "got filetoken!", "got ****!"},
		{"overlapping values one run", []string{"abcdef", "defghi"}, "xabcdefghiy", "x****y"},
		{"adjacent one run", []string{"abcdef", "ghijkl"}, "abcdefghijkl", "****"},
		{"self-overlap fully covered", []string{"aaaaaa"}, "aaaaaaaaa", "****"},
		{"prefix only passes", []string{tok}, "ghp_s3cret!", "ghp_s3cret!"},
		{"short value masked as a word", []string{"pw"}, "pwd pw", "pwd ****"},
		{"short value inside words kept", []string{"ab"}, "about a cab", "about a cab"},
		{"short value between punctuation", []string{"ab"}, "token: ab.", "token: ****."},
		{"short value at both ends", []string{"ab"}, "ab", "****"},
		{"short value next to underscore or digit", []string{"ab"}, "_ab ab1 ab-ab", "_ab ab1 ****-****"},
		{"short value beside non-ASCII", []string{"ab"}, "éab", "é****"},
		{"short value with newline", []string{"pin1\n"}, "pin12 pin1\n (pin1)", "pin12 **** (****)"},
		{"short value glued to a long one", []string{"ab", "long-secret-1"}, "long-secret-1ab long-secret-1 ab", "****ab **** ****"},
		{"short value encoded anywhere", []string{"abcde"}, "x" + base64.StdEncoding.EncodeToString([]byte("u:abcde")), "xdTp****Q=="},
		{"multi-line key", []string{"-----BEGIN KEY-----\nMIIabc\n-----END KEY-----\n"},
			"key:\n-----BEGIN KEY-----\nMIIabc\n-----END KEY-----\ndone\n", "key:\n****done\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var values [][]byte
			for _, v := range tt.values {
				values = append(values, []byte(v))
			}
			want := tt.want
			if tt.name == "base64 embedded" {
				// Whatever surrounds it, the core must be masked and the token's
				// base64 must not survive.
				got := redactChunks(t, []byte(tt.input), values, nil)
				if !bytes.Contains(got, []byte(Mask)) {
					t.Fatalf("embedded base64 not masked: %q", got)
				}
				return
			}
			for _, sizes := range [][]int{{1 << 20}, {1}, {2, 3}, {7}} {
				got := redactChunks(t, []byte(tt.input), values, sizes)
				if string(got) != want {
					t.Errorf("chunks %v: got %q, want %q", sizes, got, want)
				}
			}
		})
	}
}

// TestRedactorPassesSafeTextAtOnce checks output that cannot begin a secret is not held
// back, and that a possible beginning is.
func TestRedactorPassesSafeTextAtOnce(t *testing.T) {
	var buf bytes.Buffer
	r := NewRedactor(&buf, [][]byte{[]byte("s3cret-value")})
	r.Write([]byte("step 1 ok\n"))
	if buf.String() != "step 1 ok\n" {
		t.Fatalf("safe line held back: %q", buf.String())
	}
	r.Write([]byte("now s3cr"))
	if buf.String() != "step 1 ok\nnow " {
		t.Fatalf("got %q, want the possible secret prefix held back", buf.String())
	}
	r.Write([]byte("et-value done"))
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "step 1 ok\nnow **** done" {
		t.Fatalf("got %q", buf.String())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
	if r.pending != nil || r.patterns != nil {
		t.Error("Close kept buffers or patterns")
	}
}

func TestRedactorHoldsAtMostLongestFormMinusOne(t *testing.T) {
	v := []byte("0123456789abcdef")
	longest := 0
	for _, f := range Forms(v) {
		longest = max(longest, len(f.Bytes))
	}
	var buf bytes.Buffer
	r := NewRedactor(&buf, [][]byte{v})
	// hex form "3031..." is long; feed its proper prefix.
	hexForm := []byte(fmt.Sprintf("%x", v))
	r.Write(append([]byte("x"), hexForm[:len(hexForm)-1]...))
	if len(r.pending) > longest-1 {
		t.Fatalf("held %d bytes, longest form is %d", len(r.pending), longest)
	}
	if len(r.pending) != len(hexForm)-1 {
		t.Fatalf("held %d bytes, want the %d-byte prefix", len(r.pending), len(hexForm)-1)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRedactorWriterError(t *testing.T) {
	r := NewRedactor(failWriter{}, [][]byte{[]byte("secretvalue")})
	if _, err := r.Write([]byte("hello\n")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Write: %v, want the writer's error", err)
	}
	if _, err := r.Write([]byte("again")); err == nil {
		t.Fatal("error is not sticky")
	}
}

func TestRedactorConcurrent(t *testing.T) {
	tok := []byte("concurrent-secret-42")
	var buf bytes.Buffer
	r := NewRedactor(&buf, [][]byte{tok})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				// Whole lines per Write: lines stay intact, secrets masked.
				r.Write([]byte("line " + string(tok) + " end\n"))
			}
		}()
	}
	wg.Wait()
	r.Close()
	if bytes.Contains(buf.Bytes(), tok) {
		t.Fatal("secret leaked under concurrent writes")
	}
	if n := strings.Count(buf.String(), "line **** end\n"); n != 1600 {
		t.Fatalf("%d intact masked lines, want 1600", n)
	}
}

func TestRedact(t *testing.T) {
	vals := [][]byte{[]byte("hunter2-pass\n")}
	got := Redact([]byte(`login failed for "hunter2-pass" (aHVudGVyMi1wYXNz)`), vals)
	if want := `login failed for "****" (****)`; string(got) != want {
		t.Fatalf("Redact = %q, want %q", got, want)
	}
	if string(Redact([]byte("nothing here"), nil)) != "nothing here" {
		t.Fatal("Redact changed text without secrets")
	}
}

// TestRedactorWordAcrossWrites: whether a short value stands as a whole word is decided
// by bytes of other Writes, before and after it; it is held back only as long as the
// next byte can still change the answer.
func TestRedactorWordAcrossWrites(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string // output after each write; the last entry after Close
	}{
		{"word completed by the next write", []string{"token: ab", "."}, []string{"token: ", "token: ****.", "token: ****."}},
		{"word continued by the next write", []string{"a cab ab", "out"}, []string{"a cab ", "a cab about", "a cab about"}},
		{"word byte before, in an earlier write", []string{"c", "ab."}, []string{"c", "cab.", "cab."}},
		{"boundary before, in an earlier write", []string{" ", "ab."}, []string{" ", " ****.", " ****."}},
		{"after a word byte nothing is held", []string{"xab"}, []string{"xab", "xab"}},
		{"stream end is a boundary", []string{"go ab"}, []string{"go ", "go ****"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := NewRedactor(&buf, [][]byte{[]byte("ab")})
			for i, w := range tt.writes {
				if _, err := r.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
				if buf.String() != tt.want[i] {
					t.Fatalf("after write %d: %q, want %q", i, buf.String(), tt.want[i])
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want[len(tt.want)-1] {
				t.Fatalf("after Close: %q, want %q", got, tt.want[len(tt.want)-1])
			}
		})
	}
}

// TestRedactorRandomSplits compares the Redactor with the one-shot reference on random
// text over a small alphabet, so short values (Word forms) sit next to word and non-word
// bytes and across Write boundaries in every way; FuzzRedactor explores further.
func TestRedactorRandomSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 6))
	const alphabet = "ab_. \n"
	pick := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return b
	}
	for i := 0; i < 2000; i++ {
		values := [][]byte{pick(1 + r.IntN(4)), pick(1 + r.IntN(8))}
		input := pick(r.IntN(64))
		sizes := []int{1 + r.IntN(5), 1 + r.IntN(9)}
		got := redactChunks(t, input, values, sizes)
		if want := reference(input, values); !bytes.Equal(got, want) {
			t.Fatalf("values %q input %q chunks %v: got %q, want %q", values, input, sizes, got, want)
		}
	}
}

// FuzzRedactor: whatever the input and however it is split into writes, the output equals
// the one-shot reference (so non-secret text is kept byte for byte, and a short value is
// masked exactly where it stands as a whole word), and no value that is not Short and has
// no '*' (which a Mask could complete) appears in it.
func FuzzRedactor(f *testing.F) {
	f.Add([]byte("xx hunter22 yy"), []byte("hunter22"), []byte("other-secret"), uint8(3), uint8(1))
	f.Add([]byte("aaaaaaaaa"), []byte("aaaa"), []byte("aab"), uint8(1), uint8(2))
	f.Add([]byte("abcdefghij"), []byte("abcdef"), []byte("defghi"), uint8(2), uint8(5))
	f.Add([]byte("aHVudGVyMjI= 68756e74657232320a"), []byte("hunter22\n"), []byte("zz"), uint8(4), uint8(7))
	f.Add([]byte("p%40ss+w p@ss w"), []byte("p@ss w"), []byte("\x00\xff"), uint8(1), uint8(1))
	f.Add([]byte("about a cab, ab. ab_ab"), []byte("ab"), []byte("b a"), uint8(2), uint8(3))
	f.Add([]byte("aab a ab aaab"), []byte("aab"), []byte("a"), uint8(1), uint8(4))
	f.Fuzz(func(t *testing.T, input, v1, v2 []byte, s1, s2 uint8) {
		if len(input) > 4096 || len(v1) > 64 || len(v2) > 64 {
			return
		}
		values := [][]byte{v1, v2}
		got := redactChunks(t, input, values, []int{int(s1%17) + 1, int(s2%5) + 1})
		want := reference(input, values)
		if !bytes.Equal(got, want) {
			t.Fatalf("split %d/%d: got %q, want %q", s1, s2, got, want)
		}
		for _, v := range values {
			if !Short(v) && !bytes.Contains(v, []byte("*")) && bytes.Contains(got, v) {
				t.Fatalf("value %q passed through: %q", v, got)
			}
		}
	})
}

func BenchmarkRedactor(b *testing.B) {
	values := [][]byte{[]byte("ghp_abcdefghijklmnopqrstuvwxyz0123456789"), []byte("AKIAIOSFODNN7EXAMPLE"),
		[]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n")}
	line := []byte("#12 3.456 Compiling module github.com/example/project/internal/pkg (1/200) ok\n")
	chunk := bytes.Repeat(line, 32<<10/len(line))
	r := NewRedactor(&bytes.Buffer{}, values)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.w = discard{}
		r.Write(chunk)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkRedactorLines(b *testing.B) {
	values := [][]byte{[]byte("ghp_abcdefghijklmnopqrstuvwxyz0123456789"), []byte("AKIAIOSFODNN7EXAMPLE"),
		[]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n")}
	line := []byte("#12 3.456 Compiling module github.com/example/project/internal/pkg (1/200) ok\n")
	r := NewRedactor(discard{}, values)
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		r.Write(line)
	}
}

// TestMasksShared: Redactors from one Masks share its patterns; closing one leaves the
// others (and later ones) masking.
func TestMasksShared(t *testing.T) {
	m := NewMasks([][]byte{[]byte("s3cret-value")})
	defer m.Wipe()
	for i := 0; i < 3; i++ {
		var b bytes.Buffer
		r := m.Writer(&b)
		r.Write([]byte("a s3cret-"))
		r.Write([]byte("value b"))
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != "a "+Mask+" b" {
			t.Fatalf("writer %d: %q", i, got)
		}
	}
	var b bytes.Buffer
	r := (*Masks)(nil).Writer(&b)
	r.Write([]byte("plain"))
	r.Close()
	if b.String() != "plain" {
		t.Fatalf("nil Masks: %q", b.String())
	}
}

// TestRedactorLongValue: a value whose forms are longer than HeadLen is masked from the
// first byte of a copy to its last however the output is split, in its encodings too; a
// copy cut short is masked once it holds the form's first HeadLen bytes, and not before;
// and the Redactor holds back less than HeadLen bytes while a copy streams through.
func TestRedactorLongValue(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const alphabet = " abcdefghijklmnopqrstuvwxyz/+\n\"%"
	v := make([]byte, 5000)
	for i := range v {
		v[i] = alphabet[r.IntN(len(alphabet))]
	}
	v[0], v[len(v)-1] = 'x', 'y'
	values := [][]byte{v}
	hexV := fmt.Sprintf("%x", v)
	cases := []struct{ name, input, want string }{
		{"raw", "a " + string(v) + " b", "a **** b"},
		{"twice", string(v) + string(v), "****"},
		{"hex", "[" + hexV + "]", "[****]"},
		{"base64", "=" + base64.StdEncoding.EncodeToString(v) + ".", "=****."},
		{"cut short after the head", "a " + string(v[:HeadLen+50]) + "!", "a ****!"},
		{"too short to tell", "a " + string(v[:HeadLen-1]) + "!", "a " + string(v[:HeadLen-1]) + "!"},
	}
	for _, tc := range cases {
		for _, sizes := range [][]int{{1 << 20}, {1}, {7}, {4096}, {100, 3}} {
			if got := redactChunks(t, []byte(tc.input), values, sizes); string(got) != tc.want {
				t.Errorf("%s, chunks %v: got %.80q…, want %.80q", tc.name, sizes, got, tc.want)
			}
		}
	}
	var buf bytes.Buffer
	w := NewRedactor(&buf, values)
	defer w.Close()
	for i := 0; i < 4000; i += 500 {
		w.Write(v[i : i+500])
		if len(w.pending) >= HeadLen {
			t.Fatalf("after %d bytes of the copy, %d bytes held back", i+500, len(w.pending))
		}
	}
	if buf.String() != Mask {
		t.Fatalf("after 4000 bytes of the copy: %.80q", buf.String())
	}
}

// BenchmarkRedactorBigSecret masks the output of a step that prints 1 MiB of ordinary
// lines and then a whole secret of 1 or 16 MiB (as `cat` of a CA bundle would):
// compiling the masks and writing it all in 4 KiB writes. The copy must not survive.
func BenchmarkRedactorBigSecret(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 3))
			v := make([]byte, size)
			for i := range v {
				v[i] = byte(33 + r.IntN(94))
			}
			line := []byte("#12 3.456 Compiling module github.com/example/project/internal/pkg (1/200) ok\n")
			out := append(bytes.Repeat(line, (1<<20)/len(line)), v...)
			out = append(out, "\ndone\n"...)
			var got bytes.Buffer
			b.SetBytes(int64(len(out)))
			for b.Loop() {
				got.Reset()
				m := NewMasks([][]byte{v})
				w := m.Writer(&got)
				for i := 0; i < len(out); i += 4096 {
					w.Write(out[i:min(i+4096, len(out))])
				}
				w.Close()
				m.Wipe()
			}
			if bytes.Contains(got.Bytes(), v[:64]) || !bytes.HasSuffix(got.Bytes(), []byte(Mask+"\ndone\n")) {
				b.Fatalf("the copy was not masked: ends %q", got.Bytes()[max(0, got.Len()-40):])
			}
		})
	}
}
