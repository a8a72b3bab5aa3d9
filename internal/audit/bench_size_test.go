package audit

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

// The secret-size benchmark image: 4 gzip layers of 25 MiB of text each (100 MiB), made
// once into $TMPDIR/hush-audit-bench-size-v1, plus one small layer per case holding the
// planted copies.
const (
	sizeBenchLayers     = 4
	sizeBenchLayerBytes = 25 << 20
)

// sizeCase is one secret set: n values of size bytes each.
type sizeCase struct {
	name    string
	n, size int
}

var sizeCases = []sizeCase{
	{"1x32B", 1, 32},
	{"1x2KiB", 1, 2 << 10},
	{"100x2KiB", 100, 2 << 10},
	{"1x64KiB", 1, 64 << 10},
	{"1x1MiB", 1, 1 << 20},
	{"1x16MiB", 1, 16 << 20},
}

func sizeBenchBase(b *testing.B) []v1.Layer {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "hush-audit-bench-size-v1")
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		b.Logf("generating the secret-size benchmark layers in %s (once)", dir)
		if err := generateSizeBase(dir); err != nil {
			b.Fatalf("generating layers: %v", err)
		}
	}
	var out []v1.Layer
	for i := 0; i < sizeBenchLayers; i++ {
		l, err := tarball.LayerFromFile(filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i)))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func generateSizeBase(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(11, 11))
	words := wordList(r)
	for li := 0; li < sizeBenchLayers; li++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", li)))
		if err != nil {
			return err
		}
		zw := gzip.NewWriter(f)
		tw := tar.NewWriter(zw)
		for n, total := 0, 0; total < sizeBenchLayerBytes; n++ {
			data := textFiller(r, words, 1<<20)
			total += len(data)
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/doc/p%d/f%d.txt", li, n), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
		for _, c := range []interface{ Close() error }{tw, zw, f} {
			if err := c.Close(); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
}

// sizeSecrets returns c's values (random printable bytes, as PEM bundles and tokens are).
func sizeSecrets(c sizeCase) map[string][]byte {
	r := rand.New(rand.NewPCG(uint64(c.n), uint64(c.size)))
	out := map[string][]byte{}
	for i := 0; i < c.n; i++ {
		v := make([]byte, c.size)
		for j := range v {
			v[j] = byte(33 + r.IntN(94))
		}
		out[fmt.Sprintf("s%03d", i)] = v
	}
	return out
}

// BenchmarkScanSecretSize audits the same 100 MiB image against secret sets of growing
// size: the goal is a time and memory that do not grow with the values. Every case
// plants the first value raw and the last one as base64 wrapped at 76 columns (as
// `base64` writes it) in an extra layer, and checks both are found. peak-MiB is the
// process's maximum RSS so far (monotonic: run one case per process to read it alone).
func BenchmarkScanSecretSize(b *testing.B) {
	base := sizeBenchBase(b)
	for _, c := range sizeCases {
		b.Run(c.name, func(b *testing.B) {
			secrets := sizeSecrets(c)
			first, last := secrets["s000"], secrets[fmt.Sprintf("s%03d", c.n-1)]
			wrapped := wrapLines([]byte(base64.StdEncoding.EncodeToString(last)), 76)
			leak := gzipLayer(b, tarOf(b, file{name: "leak/raw", content: append([]byte("x="), first...)},
				file{name: "leak/b64", content: wrapped}))
			img, err := mutate.AppendLayers(empty.Image, append(append([]v1.Layer{}, base...), leak)...)
			if err != nil {
				b.Fatal(err)
			}
			var r *Report
			c0 := cpuTime()
			for b.Loop() {
				if r, err = Scan(context.Background(), img, secrets, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			found := map[string]bool{}
			for _, f := range r.Findings {
				found[f.Location.Path] = true
			}
			if !found["/leak/raw"] || !found["/leak/b64"] {
				b.Errorf("planted copies found: %v, want /leak/raw and /leak/b64", found)
			}
			reportCPU(b, c0)
			b.SetBytes(r.Stats.Bytes)
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-MiB")
			}
		})
	}
}

// gzipLayer compresses a tar once, so that the timed scans do not compress it again.
func gzipLayer(b *testing.B, t []byte) v1.Layer {
	z := gz(b, t)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(z)), nil })
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// wrapLines breaks b into lines of width bytes, each ending in a newline.
func wrapLines(b []byte, width int) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		n := min(width, len(b))
		out.Write(b[:n])
		out.WriteByte('\n')
		b = b[n:]
	}
	return out.Bytes()
}
