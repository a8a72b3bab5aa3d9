package audit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"

	"github.com/hush-build/hush/internal/hushtest"
)

// The benchmark image: 8 gzip layers of 72 MiB of text-like data each (576 MiB), with
// 120 planted secrets. It is generated once into $TMPDIR/hush-audit-bench-v2 (not in git).
const (
	benchLayers     = 8
	benchLayerBytes = 72 << 20
	benchSecrets    = 120
)

type benchImage struct {
	dir     string
	img     v1.Image
	secrets map[string][]byte
	// kinds says where each secret was planted: raw, b64, deleted, config, encoded.
	kinds map[string]string
	bytes int64 // uncompressed layer bytes
	gz    []string
}

func benchSecretValues() (map[string][]byte, map[string]string) {
	r := rand.New(rand.NewPCG(42, 42))
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	secrets, kinds := map[string][]byte{}, map[string]string{}
	for i := 0; i < benchSecrets; i++ {
		v := make([]byte, 24+r.IntN(17))
		for j := range v {
			v[j] = alpha[r.IntN(len(alpha))]
		}
		id := fmt.Sprintf("s%03d", i)
		secrets[id] = v
		switch {
		case i < 40:
			kinds[id] = "raw"
		case i < 70:
			kinds[id] = "b64"
		case i < 90:
			kinds[id] = "deleted"
		case i < 105:
			kinds[id] = "config"
		default:
			kinds[id] = "encoded"
		}
	}
	return secrets, kinds
}

// wordList is 4000 random lowercase words of 2 to 10 letters.
func wordList(r *rand.Rand) []string {
	words := make([]string, 4000)
	for i := range words {
		w := make([]byte, 2+r.IntN(9))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(w)
	}
	return words
}

// textFiller writes n bytes of word salad (compresses about 3:1 like source trees do).
func textFiller(r *rand.Rand, words []string, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 32)
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func loadBenchImage(b *testing.B) *benchImage {
	b.Helper()
	secrets, kinds := benchSecretValues()
	dir := filepath.Join(os.TempDir(), "hush-audit-bench-v2")
	bi := &benchImage{dir: dir, secrets: secrets, kinds: kinds}
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		b.Logf("generating the benchmark image in %s (once)", dir)
		if err := generateBenchImage(dir, secrets, kinds); err != nil {
			b.Fatalf("generating benchmark image: %v", err)
		}
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "layout"))
	if err != nil {
		b.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		b.Fatal(err)
	}
	if bi.img, err = idx.Image(im.Manifests[0].Digest); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchLayers; i++ {
		bi.gz = append(bi.gz, filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i)))
	}
	return bi
}

func generateBenchImage(dir string, secrets map[string][]byte, kinds map[string]string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(7, 7))
	words := wordList(r)
	// files[layer] are the entries of each layer; secrets are planted into them.
	type entry struct {
		name string
		data []byte
	}
	files := make([][]entry, benchLayers)
	plantIn := func(layer int, name string, v []byte) {
		size := 256<<10 + r.IntN(1<<20)
		data := textFiller(r, words, size)
		at := r.IntN(size - len(v))
		copy(data[at:], v)
		files[layer] = append(files[layer], entry{name, data})
	}
	cfgEnv := []string{"PATH=/usr/bin:/bin"}
	labels := map[string]string{}
	var history []v1.History
	for i := 0; i < benchSecrets; i++ {
		id := fmt.Sprintf("s%03d", i)
		v := secrets[id]
		layer := i % benchLayers
		switch kinds[id] {
		case "raw":
			plantIn(layer, fmt.Sprintf("srv/app/%s.txt", id), v)
		case "b64":
			blob := make([]byte, 4096+r.IntN(4096))
			for j := range blob {
				blob[j] = byte(r.Uint32())
			}
			at := 3*r.IntN(1000) + i%3
			copy(blob[at:], v)
			files[layer] = append(files[layer], entry{fmt.Sprintf("srv/blobs/%s.b64", id), []byte(base64.StdEncoding.EncodeToString(blob))})
		case "deleted":
			layer = i % (benchLayers - 1)
			plantIn(layer, fmt.Sprintf("tmp/build/%s.key", id), v)
			files[layer+1] = append(files[layer+1], entry{fmt.Sprintf("tmp/build/.wh.%s.key", id), nil})
		case "config":
			switch i % 3 {
			case 0:
				cfgEnv = append(cfgEnv, "TOKEN_"+id+"="+string(v))
			case 1:
				labels["org.example."+id] = string(v)
			default:
				history = append(history, v1.History{CreatedBy: "RUN deploy --token " + string(v)})
			}
		case "encoded":
			enc := [][]byte{[]byte(hex.EncodeToString(v)), bytes.ToUpper([]byte(hex.EncodeToString(v))), []byte("0x" + hex.EncodeToString(v))}[i%3]
			plantIn(layer, fmt.Sprintf("etc/conf/%s.json", id), enc)
		}
	}
	// One file over 50 MiB, with a secret at its end.
	big := textFiller(r, words, 56<<20)
	copy(big[len(big)-200:], secrets["s000"])
	files[0] = append(files[0], entry{"var/lib/big.db", big})
	var layers []v1.Layer
	for li := 0; li < benchLayers; li++ {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", li))
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		zw := gzip.NewWriter(f)
		tw := tar.NewWriter(zw)
		total := 0
		write := func(name string, data []byte) error {
			total += len(data)
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			_, err := tw.Write(data)
			return err
		}
		for _, e := range files[li] {
			if err := write(e.name, e.data); err != nil {
				return err
			}
		}
		for n := 0; total < benchLayerBytes; n++ {
			if err := write(fmt.Sprintf("usr/share/doc/pkg%d/file%d.txt", li, n), textFiller(r, words, 4<<20)); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		l, err := tarball.LayerFromFile(p)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Config.Env, cf.Config.Labels = cfgEnv, labels
	cf.History = append(cf.History, history...)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendImage(img); err != nil {
		return err
	}
	patterns := make([]string, 0, len(secrets))
	for _, v := range secrets {
		patterns = append(patterns, string(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "patterns.raw"), []byte(strings.Join(patterns, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	var all []string
	for _, v := range secrets {
		for _, f := range Forms(v) {
			all = append(all, string(f.Bytes))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "patterns.forms"), []byte(strings.Join(all, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
}

// BenchmarkScan audits the benchmark image and checks that every planted secret is found
// where it was planted.
func BenchmarkScan(b *testing.B) {
	bi := loadBenchImage(b)
	var r *Report
	c0 := cpuTime()
	for b.Loop() {
		var err error
		r, err = Scan(context.Background(), bi.img, bi.secrets, Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
	b.SetBytes(r.Stats.Bytes)
	found := map[string]map[string]bool{}
	for _, f := range r.Findings {
		if found[f.Secret] == nil {
			found[f.Secret] = map[string]bool{}
		}
		l := f.Location
		switch {
		case l.Kind == KindLayer && l.Deleted:
			found[f.Secret]["deleted"] = true
		case l.Kind == KindLayer && strings.HasPrefix(f.Encoding, "base64"):
			found[f.Secret]["b64"] = true
		case l.Kind == KindLayer && f.Encoding == "raw":
			found[f.Secret]["raw"] = true
		case l.Kind == KindLayer:
			found[f.Secret]["encoded"] = true
		case l.Kind == KindConfig || l.Kind == KindHistory:
			found[f.Secret]["config"] = true
		}
	}
	missed := 0
	for id, kind := range bi.kinds {
		if !found[id][kind] {
			missed++
			b.Errorf("secret %s planted as %s not found (found %v)", id, kind, found[id])
		}
	}
	b.ReportMetric(float64(len(bi.kinds)-missed), "found")
	b.ReportMetric(float64(r.Stats.Bytes)/(1<<20), "MiB")
}

// BenchmarkGrepBaseline is the comparison: `gzip -dc | grep -F -f patterns` over the same
// layers, with the 120 raw values (patterns.raw) and with every form (patterns.forms), run
// as Scan runs, one layer per worker with GOMAXPROCS workers, largest layers first.
func BenchmarkGrepBaseline(b *testing.B) {
	for _, bin := range []string{"gzip", "grep", "sh"} {
		hushtest.RequireBinary(b, bin)
	}
	bi := loadBenchImage(b)
	total := bi.uncompressed(b)
	for _, pat := range []string{"raw", "forms"} {
		b.Run(pat, func(b *testing.B) {
			b.SetBytes(total)
			c0 := cpuTime()
			for b.Loop() {
				err := bi.eachLayer(func(p string) error {
					cmd := exec.Command("sh", "-c", `gzip -dc "$1" | LC_ALL=C grep -F -a -c -f "$2"; true`, "sh", p, filepath.Join(bi.dir, "patterns."+pat))
					if out, err := cmd.CombinedOutput(); err != nil {
						return fmt.Errorf("grep: %v: %s", err, out)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, c0)
		})
	}
}

// BenchmarkDecompressFloor is the floor under any search: decompressing the layers (the
// gzip package Scan uses) and nothing else, run as Scan runs.
func BenchmarkDecompressFloor(b *testing.B) {
	bi := loadBenchImage(b)
	b.SetBytes(bi.uncompressed(b))
	c0 := cpuTime()
	for b.Loop() {
		if err := bi.eachLayer(func(p string) error { _, err := gunzipSize(p); return err }); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
}

func (bi *benchImage) uncompressed(b *testing.B) int64 {
	var total int64
	for _, p := range bi.gz {
		n, err := gunzipSize(p)
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	return total
}

// eachLayer runs f on every layer file with GOMAXPROCS workers, largest first, as
// Scan's layer pool does.
func (bi *benchImage) eachLayer(f func(path string) error) error {
	paths := append([]string(nil), bi.gz...)
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	slices.SortStableFunc(paths, func(a, b string) int { return int(size(b) - size(a)) })
	work := make(chan string)
	errs := make(chan error, len(paths))
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				errs <- f(p)
			}
		}()
	}
	for _, p := range paths {
		work <- p
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// cpuTime is the CPU time (user and system) of this process, and with children of the
// processes it waited for.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// reportCPU reports the CPU seconds per operation since c0: on a shared machine this
// varies far less than the wall time.
func reportCPU(b *testing.B, c0 time.Duration) {
	b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/op")
}

func gunzipSize(p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return 0, err
	}
	return io.Copy(io.Discard, zr)
}
