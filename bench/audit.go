package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

// The audit benchmark image: 4 gzip layers of 25 MiB of text (100 MiB), plus one layer
// holding a planted copy of one value of each secret set, so every run verifies a leak.
const (
	auditLayers     = 4
	auditLayerBytes = 25 << 20
)

// auditSet is one secret set: n values of size bytes.
type auditSet struct {
	name    string
	n, size int
}

var auditSets = []auditSet{{auditSmall, 1, 32}, {auditOne2K, 1, 2 << 10}, {auditMany2K, 100, 2 << 10}, {auditBig, 1, 16 << 20}}

func (s auditSet) value(i int) []byte { return printable(uint64(1000*s.size+s.n), s.size+i) }

// auditSeries times `hush audit` of the benchmark image with each secret set and the
// baseline (gzip -dc | grep -F over the same layers, the planted one included, with the
// 32-byte value, as many at once as hush's audit runs), alternating them run by run with
// dirty pages settled first.
func auditSeries(ctx context.Context, c config, shm string, logf func(string, ...any)) ([]series, error) {
	dir := filepath.Join(c.work, "audit")
	logf("writing the audit benchmark image in %s", dir)
	blobs, err := writeAuditImage(dir)
	if err != nil {
		return nil, fmt.Errorf("writing the audit image: %w", err)
	}
	type runner struct {
		s   series
		run func() (usage, error)
	}
	var rs []*runner
	for _, set := range auditSets {
		args, err := auditArgs(set, shm)
		if err != nil {
			return nil, err
		}
		args = append([]string{"--root", filepath.Join(c.work, "audit-root"), "audit", "--format", "json"}, append(args, "oci:"+filepath.Join(dir, "layout"))...)
		rs = append(rs, &runner{s: series{Case: set.name, Mode: modeAudit, Builder: "hush"}, run: func() (usage, error) {
			out, u, err := measure(ctx, nil, []int{1}, c.hush, args...)
			if err == nil {
				err = checkAuditReport(out, set)
			}
			return u, err
		}})
	}
	patterns, err := writeSecret(shm, "baseline.patterns", append(auditSets[0].value(0), '\n'))
	if err != nil {
		return nil, err
	}
	rs = append(rs, &runner{s: series{Case: auditBaseline, Mode: modeAudit, Builder: baselineName},
		run: func() (usage, error) { return grepLayers(ctx, blobs, patterns) }})
	for _, sl := range alternate(len(rs), c.runs) {
		r := rs[sl.Builder]
		settle(ctx, 20*time.Second)
		start := time.Now()
		u, err := r.run()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.s.Case, err)
		}
		d := time.Since(start)
		r.s.Samples = append(r.s.Samples, d)
		r.s.CPU = append(r.s.CPU, u.cpu)
		r.s.PeakRSS = max(r.s.PeakRSS, u.rss)
		logf("%-15s %-9s run %d: %v (CPU %v), peak RSS %d MiB", r.s.Case, r.s.Builder, sl.Run+1, d.Round(time.Millisecond), u.cpu.Round(time.Millisecond), u.rss>>10)
	}
	var out []series
	for _, r := range rs {
		r.s.summary = summarize(r.s.Samples)
		r.s.CPUMedian = summarize(r.s.CPU).Median
		out = append(out, r.s)
	}
	return out, nil
}

// auditArgs writes set's values into shm and returns their --secret flags.
func auditArgs(set auditSet, shm string) ([]string, error) {
	var args []string
	for i := 0; i < set.n; i++ {
		p, err := writeSecret(shm, filepath.Join(set.name, fmt.Sprintf("s%03d", i)), set.value(i))
		if err != nil {
			return nil, err
		}
		args = append(args, "--secret", fmt.Sprintf("id=s%03d,src=%s", i, p))
	}
	return args, nil
}

// checkAuditReport makes sure the audit found the copy planted for set, in the layer.
func checkAuditReport(out string, set auditSet) error {
	var r struct {
		Findings []struct {
			Secret   string `json:"secret"`
			Location struct {
				Path string `json:"path"`
			} `json:"location"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return fmt.Errorf("reading the audit report: %w", err)
	}
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Location.Path, "/leak/"+set.name+"/") {
			return nil
		}
	}
	return fmt.Errorf("the copy planted in /leak/%s was not found", set.name)
}

// grepLayers runs `gzip -dc LAYER | grep -F -c -f PATTERNS` over the layer blobs, as
// many at once as GOMAXPROCS (hush's audit searches that many layers at once), and
// returns the largest peak RSS of one pipeline and the CPU time of all.
func grepLayers(ctx context.Context, blobs []string, patterns string) (usage, error) {
	work := make(chan string)
	var mu sync.Mutex
	var total usage
	var first error
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				_, u, err := measure(ctx, nil, nil, "sh", "-c", `gzip -dc "$1" | LC_ALL=C grep -F -a -c -f "$2"; true`, "sh", b, patterns)
				mu.Lock()
				total.rss = max(total.rss, u.rss)
				total.cpu += u.cpu
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, b := range blobs {
		work <- b
	}
	close(work)
	wg.Wait()
	return total, first
}

// writeAuditImage writes the image as an OCI layout under dir and returns the paths of
// its layer blobs.
func writeAuditImage(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lp := filepath.Join(dir, "layout")
	var layers []v1.Layer
	r := rand.New(rand.NewPCG(13, 13))
	for i := 0; i < auditLayers; i++ {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		if err := writeGzipTar(p, textFiles(r, fmt.Sprintf("usr/share/doc/p%d", i), auditLayerBytes)); err != nil {
			return nil, err
		}
		l, err := tarball.LayerFromFile(p)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	leakPath := filepath.Join(dir, "leak.tar.gz")
	if err := writeGzipTar(leakPath, leakFiles()); err != nil {
		return nil, err
	}
	leak, err := tarball.LayerFromFile(leakPath)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, append(layers, leak)...)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(lp); err != nil {
		return nil, err
	}
	l, err := layout.Write(lp, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := l.AppendImage(img); err != nil {
		return nil, err
	}
	var blobs []string
	for _, l := range append(layers, leak) {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, filepath.Join(lp, "blobs", d.Algorithm, d.Hex))
	}
	return blobs, nil
}

// leakFiles plants a copy of one value of each set: raw, but as `base64` writes it (76
// columns) for the single 2 KiB value.
func leakFiles() map[string][]byte {
	files := map[string][]byte{}
	for _, s := range auditSets {
		v := s.value(s.n / 2)
		if s.name == auditOne2K {
			enc := base64.StdEncoding.EncodeToString(v)
			var b bytes.Buffer
			for len(enc) > 0 {
				k := min(76, len(enc))
				b.WriteString(enc[:k] + "\n")
				enc = enc[k:]
			}
			files["leak/"+s.name+"/b64.txt"] = b.Bytes()
			continue
		}
		files["leak/"+s.name+"/raw"] = append([]byte("v="), v...)
	}
	return files
}

// textFiles is about total bytes of word salad in 1 MiB files under dir.
func textFiles(r *rand.Rand, dir string, total int) map[string][]byte {
	words := make([]string, 4000)
	for i := range words {
		w := make([]byte, 2+r.IntN(9))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(w)
	}
	files := map[string][]byte{}
	for n := 0; n*(1<<20) < total; n++ {
		var b bytes.Buffer
		for b.Len() < 1<<20 {
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(12) == 0 {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		files[fmt.Sprintf("%s/f%03d.txt", dir, n)] = b.Bytes()[:1<<20]
	}
	return files
}

// writeGzipTar writes files (sorted by name) as a gzip tar at p.
func writeGzipTar(p string, files map[string][]byte) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}
