package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/hush-build/hush/internal/secret"
)

// randomValue is n random printable bytes that start and end with a letter (so the value
// has no trimmed variant).
func randomValue(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(33 + r.IntN(94))
	}
	v[0], v[n-1] = 'k', 'q'
	return v
}

// streamHits runs a matcher for secrets over data, read bufSize bytes at a time, and
// returns "form@offset" for every hit.
func streamHits(t *testing.T, secrets map[string][]byte, data []byte, bufSize int) []string {
	t.Helper()
	m, err := newMatcher(secrets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := newStream(context.Background(), bytes.NewReader(data), m, bufSize)
	if err := st.drain(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range st.hits {
		out = append(out, fmt.Sprintf("%s@%d", m.forms[h.form].enc.Name, h.start))
	}
	slices.Sort(out)
	return out
}

// TestLongValueWholeCopyOnly: a value longer than a form head is found where a whole copy
// is, once per copy, across read boundaries of any size, in its encodings; a copy missing
// its last byte, or with one byte changed, is not a finding.
func TestLongValueWholeCopyOnly(t *testing.T) {
	v := randomValue(1, 3000)
	secrets := map[string][]byte{"big": v}
	changed := bytes.Clone(v)
	changed[1500] ^= 1
	hexV := []byte(hex.EncodeToString(v))
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"raw", slices.Concat([]byte("abc"), v, []byte("def")), []string{"raw@3"}},
		{"two copies", slices.Concat(v, []byte("\n"), v), []string{"raw@0", fmt.Sprintf("raw@%d", len(v)+1)}},
		{"hex", slices.Concat([]byte("0x"), hexV), []string{"hex@2"}},
		{"json", slices.Concat([]byte(`{"k":"`), jsonEscape(v, false), []byte(`"}`)), []string{"json@6"}},
		{"cut short by one byte", slices.Concat([]byte("abc"), v[:len(v)-1]), nil},
		{"one byte changed", changed, nil},
	}
	for _, tc := range cases {
		for _, bufSize := range []int{1, 7, 1000, 1 << 20} {
			got := streamHits(t, secrets, tc.data, bufSize)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s, reads of %d: hits %v, want %v", tc.name, bufSize, got, tc.want)
			}
		}
	}
}

// TestWrappedBase64AndHex: a value base64-encoded (standard or URL alphabet, at any byte
// offset of the encoded blob) and cut into lines of 60, 64 or 76 columns ("\n" or
// "\r\n"), or hex-encoded in lines of 60 as `xxd -p` writes it, is found for every value
// of at least 24 bytes (the guarantee of docs/spec/audit-report.md), and so is the
// unwrapped encoding.
func TestWrappedBase64AndHex(t *testing.T) {
	for _, n := range []int{24, 25, 26, 32, 45, 48, 64, 100, 191, 192, 193, 250, 1000, 5000} {
		v := randomValue(2, n)
		secrets := map[string][]byte{"s": v}
		for _, width := range []int{0, 60, 64, 76} {
			for _, eol := range []string{"\n", "\r\n"} {
				for prefix := 0; prefix < 3; prefix++ {
					for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
						blob := slices.Concat(bytes.Repeat([]byte{0xa5}, prefix), v, []byte{1, 2})
						text := wrapWith([]byte(enc.EncodeToString(blob)), width, eol)
						if hits := streamHits(t, secrets, text, 4096); len(hits) != 1 {
							t.Fatalf("%d bytes, base64 at offset %d in lines of %d (%q): hits %v", n, prefix, width, eol, hits)
						}
					}
				}
				text := wrapWith([]byte(hex.EncodeToString(v)), width, eol)
				if hits := streamHits(t, secrets, text, 4096); len(hits) != 1 || !strings.HasPrefix(hits[0], "hex@") {
					t.Fatalf("%d bytes, hex in lines of %d: hits %v", n, width, hits)
				}
			}
		}
	}
}

// TestWrappedLineAtEveryPhase: the line breaks may fall anywhere in a copy: every phase
// of 64- and 76-column lines, for short and long values.
func TestWrappedLineAtEveryPhase(t *testing.T) {
	for _, n := range []int{24, 40, 90, 400} {
		v := randomValue(3, n)
		enc := []byte(base64.StdEncoding.EncodeToString(v))
		for _, width := range []int{64, 76} {
			for phase := 1; phase < width; phase++ {
				// A first line of phase characters, then full lines.
				text := slices.Concat([]byte("x\n"), enc[:min(phase, len(enc))], []byte("\n"), wrapWith(enc[min(phase, len(enc)):], width, "\n"))
				if hits := streamHits(t, map[string][]byte{"s": v}, text, 1<<16); len(hits) != 1 {
					t.Fatalf("%d bytes, lines of %d, first break after %d: hits %v", n, width, phase, hits)
				}
			}
		}
	}
}

func wrapWith(b []byte, width int, eol string) []byte {
	if width == 0 {
		return b
	}
	var out bytes.Buffer
	for len(b) > 0 {
		k := min(width, len(b))
		out.Write(b[:k])
		out.WriteString(eol)
		b = b[k:]
	}
	return out.Bytes()
}

// TestMatchEncodingsAsBefore: the forms searched (and so the encoding names reported)
// are those the audit searched before forms were windowed: Forms less every form that
// holds a shorter form of the same value.
func TestMatchEncodingsAsBefore(t *testing.T) {
	for _, v := range []string{canary, "p@ss word/\"quoted\"+&<tag>\n", "abcdef", "abcdefg", "abcdefgh",
		"  tok3n-value\n", "\xfb\xff\xbf\xfe\xfb\xff\xbf", "plain_token_1234567890"} {
		all := secret.Forms([]byte(v))
		var want []string
		for i, f := range all {
			redundant := false
			for j, g := range all {
				if i != j && len(g.Bytes) < len(f.Bytes) && bytes.Contains(f.Bytes, g.Bytes) {
					redundant = true
				}
			}
			if !redundant {
				want = append(want, f.Name)
			}
		}
		var got []string
		for _, e := range matchEncodings([]byte(v)) {
			got = append(got, e.Name)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: searched %v, want %v", v, got, want)
		}
	}
}

// gz compresses b.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// TestScanInsideGzipFiles: a value inside a gzip file of a layer (a log a step gzipped, a
// .tar.gz it made) is found at the file's path with compression gzip and its offset in the
// decompressed content; past the per-file limit a warning says what was not searched.
func TestScanInsideGzipFiles(t *testing.T) {
	tarball := tarOf(t, file{name: "app/token", content: []byte("t=" + canary)})
	huge := make([]byte, maxGzipEntry+10)
	copy(huge[maxGzipEntry+2:], "tok")
	img := imageOf(t, nil, layerOf(t, "gzip",
		file{name: "var/log/app.log.gz", content: gz(t, slices.Concat(bytes.Repeat([]byte("GET / 200\n"), 100), []byte(canary)))},
		file{name: "srv/backup.tar.gz", content: gz(t, tarball)},
		file{name: "srv/plain.gz", content: gz(t, filler(3000, 4))},
		file{name: "srv/huge.gz", content: gz(t, huge)}))
	r := scan(t, img, map[string][]byte{"tok": []byte(canary)}, Options{})
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Location.Path+" "+f.Location.Compression+" "+fmt.Sprint(f.Location.Offset))
	}
	want := []string{"/srv/backup.tar.gz gzip 514", "/var/log/app.log.gz gzip 1000"}

	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "/srv/huge.gz: only the first 64 MiB") {
		t.Errorf("warnings %q, want one about /srv/huge.gz", r.Warnings)
	}
}

// TestWindowsAgainstNaive compares the hits for values of 16 to 40 bytes over a
// two-letter alphabet (so copies overlap, repeat and occur by chance) with every
// occurrence bytes.Index finds, for reads of several sizes.
func TestWindowsAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ab"[r.IntN(2)]
		}
		return b
	}
	for round := 0; round < 300; round++ {
		v := word(16 + r.IntN(25))
		data := word(2000 + r.IntN(2000))
		for k := 0; k < 1+r.IntN(4); k++ {
			copy(data[r.IntN(len(data)-len(v)):], v)
		}
		var want []string
		for i := 0; i+len(v) <= len(data); i++ {
			if bytes.Equal(data[i:i+len(v)], v) {
				want = append(want, fmt.Sprintf("raw@%d", i))
			}
		}
		slices.Sort(want)
		bufSize := []int{1, 13, 512, 1 << 16}[round%4]
		if got := streamHits(t, map[string][]byte{"s": v}, data, bufSize); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("round %d (reads of %d): value %s\n got %v\nwant %v", round, bufSize, v, got, want)
		}
	}
}

// TestPreparedServesSeveralScans: one Prepared search serves an image scan, a layer scan
// and a directory scan in turn (no scan wipes it), finding what fresh searches find.
func TestPreparedServesSeveralScans(t *testing.T) {
	secrets := map[string][]byte{"tok": []byte(canary), "big": randomValue(7, 3000)}
	layer := layerOf(t, "gzip", file{name: "a", content: []byte("x" + canary)}, file{name: "b", content: secrets["big"]})
	img := imageOf(t, nil, layer)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), secrets["big"], 0o600); err != nil {
		t.Fatal(err)
	}
	prep, err := Prepare(secrets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer prep.Wipe()
	for round := 0; round < 2; round++ {
		r1, err := Scan(context.Background(), img, secrets, Options{Prepared: prep})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ScanLayers(context.Background(), []v1.Layer{layer}, secrets, Options{Prepared: prep})
		if err != nil {
			t.Fatal(err)
		}
		r3, err := ScanDir(context.Background(), dir, secrets, Options{Prepared: prep})
		if err != nil {
			t.Fatal(err)
		}
		if len(r1.Findings) != 2 || len(r2.Findings) != 2 || len(r3.Findings) != 1 {
			t.Fatalf("round %d: %d, %d, %d findings, want 2, 2, 1", round, len(r1.Findings), len(r2.Findings), len(r3.Findings))
		}
		if r1.Findings[0].Fingerprint != r2.Findings[0].Fingerprint {
			t.Errorf("one prepared search, two fingerprints for one value")
		}
	}
}
