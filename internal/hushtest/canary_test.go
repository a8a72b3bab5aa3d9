package hushtest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestFindCanary(t *testing.T) {
	canary := []byte("CANARY-7f3a9-token")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("prefix " + string(canary) + " suffix"))
	zw.Close()
	cases := map[string][]byte{
		"raw":      []byte("a" + string(canary) + "b"),
		"b64":      []byte(base64.StdEncoding.EncodeToString([]byte("user:" + string(canary)))),
		"b64shift": []byte(base64.URLEncoding.EncodeToString([]byte("ab" + string(canary) + "zz"))),
		"gzip":     gz.Bytes(),
		"clean":    []byte("nothing to see here"),
	}
	dir := t.TempDir()
	for name, data := range cases {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hits, err := FindCanary(canary, dir)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, h := range hits {
		found[filepath.Base(h)] = true
	}
	for name := range cases {
		want := name != "clean"
		got := found[name] || found[name+" (gunzipped)"]
		if got != want {
			t.Errorf("%s: found=%v, want %v (hits %v)", name, got, want, hits)
		}
	}
}

// TestScannerChunkBoundary: every form of the canary is found wherever it falls against
// the chunk boundaries, raw and inside gzip, with a chunk far smaller than the data.
func TestScannerChunkBoundary(t *testing.T) {
	canary := []byte("CANARY-boundary-5e1f")
	const chunk = 7
	for fi, form := range canaryForms(canary) {
		for off := 0; off < 3*chunk; off++ {
			data := append(append(bytes.Repeat([]byte{'.'}, off), form...), bytes.Repeat([]byte{'.'}, 2*chunk)...)
			s := newScanner(canary, chunk)
			if found, err := s.contains(bytes.NewReader(data)); err != nil || !found {
				t.Fatalf("form %d (%q) at offset %d: found=%v err=%v", fi, form, off, found, err)
			}
			p := filepath.Join(t.TempDir(), "blob.gz")
			if err := os.WriteFile(p, gzipped(t, data), 0o644); err != nil {
				t.Fatal(err)
			}
			if hit, err := s.file(p); err != nil || hit != p+" (gunzipped)" {
				t.Fatalf("form %d at offset %d in gzip: hit %q, err %v", fi, off, hit, err)
			}
		}
	}
	// Near misses stay misses however they are cut.
	miss := append(canary[:len(canary)-1:len(canary)-1], 'X')
	for off := 0; off < 3*chunk; off++ {
		data := append(bytes.Repeat([]byte{'.'}, off), miss...)
		if found, err := newScanner(canary, chunk).contains(bytes.NewReader(data)); err != nil || found {
			t.Fatalf("near miss at offset %d: found=%v err=%v", off, found, err)
		}
	}
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFindCanaryBigFileBoundedMemory: a 100 MB (sparse) file with the canary at its end is
// searched to the end while allocating a small, bounded amount, not the file's size.
func TestFindCanaryBigFileBoundedMemory(t *testing.T) {
	canary := []byte("CANARY-bigfile-0c4d")
	p := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const size = 100 << 20
	if _, err := f.WriteAt(canary, size-int64(len(canary))-10); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	hits, err := FindCanary(canary, filepath.Dir(p))
	runtime.ReadMemStats(&after)
	if err != nil || len(hits) != 1 || hits[0] != p {
		t.Fatalf("hits %v, err %v; want %s", hits, err, p)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("searching a %d MiB file allocated %d MiB; want a bounded buffer", size>>20, alloc>>20)
	}
}
