package audit

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options tunes a scan. The zero value searches for the given secrets only, with a random
// fingerprint key and one layer per CPU in parallel.
type Options struct {
	// Detect adds the heuristic credential rules (private keys, cloud and forge tokens,
	// JWTs, Docker auth, credential files).
	Detect bool
	// FingerprintKey keys the findings' fingerprints; nil means 32 random bytes per run,
	// so fingerprints only correlate findings within one report.
	FingerprintKey []byte
	// Concurrency is how many layers or files are searched at once; 0 means GOMAXPROCS.
	Concurrency int
	// SkipLayer, when set, names layers (by digest) not to read: a build's self-audit skips
	// layers its Ledger records as clean for every value searched.
	SkipLayer func(digest string) bool
	// Prepared, when set, is the search compiled once by Prepare for the same secrets,
	// Detect and FingerprintKey, so that several scans (a build's self-audit runs five)
	// do not each work out every form of every value again.
	Prepared *Prepared

	bufSize int // read size of each stream; 0 means defaultBufSize (tests shrink it)
}

func (o Options) workers() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return runtime.GOMAXPROCS(0)
}

// Prepared is a search compiled once for several scans of the same secrets.
type Prepared struct{ m *matcher }

// Prepare compiles the search for secrets with opts (Detect, FingerprintKey); the values
// must stay unchanged until Wipe.
func Prepare(secrets map[string][]byte, opts Options) (*Prepared, error) {
	m, err := newMatcher(secrets, opts)
	if err != nil {
		return nil, err
	}
	return &Prepared{m: m}, nil
}

// Wipe zeroes what the search holds of the values.
func (p *Prepared) Wipe() { p.m.wipe() }

// matcherFor is opts.Prepared's matcher, or a new one for secrets that done wipes.
func matcherFor(secrets map[string][]byte, opts Options) (m *matcher, done func(), err error) {
	if opts.Prepared != nil {
		return opts.Prepared.m, func() {}, nil
	}
	if m, err = newMatcher(secrets, opts); err != nil {
		return nil, nil, err
	}
	return m, m.wipe, nil
}

func newReport(m *matcher, opts Options, target string) *Report {
	return &Report{Version: ReportVersion, Target: target, Secrets: append([]string{}, m.ids...),
		Skipped: m.skipped, Detect: opts.Detect, Findings: []Finding{}}
}

// Scan searches img for every value of secrets (id → value) in every form of Forms, and
// with opts.Detect for well-known credential formats: every layer's whole uncompressed
// stream (so files deleted by later layers too), the config (every string, history
// included) and the manifest. Report.Target is the image's digest; callers may replace it
// with the reference they resolved.
func Scan(ctx context.Context, img v1.Image, secrets map[string][]byte, opts Options) (*Report, error) {
	start := time.Now()
	m, done, err := matcherFor(secrets, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("auditing image: reading digest: %w", err)
	}
	r := newReport(m, opts, d.String())
	r.Digest = d.String()
	layerOrder := map[string]int{}
	if err := m.scanImage(ctx, img, "", r, map[string]bool{}, layerOrder, opts); err != nil {
		return nil, err
	}
	r.sortFindings(layerOrder)
	r.Stats.DurationMS = time.Since(start).Milliseconds()
	return r, nil
}

// ScanLayers searches layers that belong to no one image (a build's intermediate stages)
// the way Scan searches an image's: each distinct layer once, its whole uncompressed
// stream. Findings name the layer; Report.Target is "layers".
func ScanLayers(ctx context.Context, layers []v1.Layer, secrets map[string][]byte, opts Options) (*Report, error) {
	start := time.Now()
	m, done, err := matcherFor(secrets, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	r := newReport(m, opts, "layers")
	digests := make([]string, len(layers))
	var todo []int
	seen := map[string]bool{}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("auditing layer %d: %w", i, err)
		}
		digests[i] = d.String()
		if !seen[digests[i]] && (opts.SkipLayer == nil || !opts.SkipLayer(digests[i])) {
			todo = append(todo, i)
		}
		seen[digests[i]] = true
	}
	results, err := m.scanLayers(ctx, layers, digests, todo, "", opts)
	if err != nil {
		return nil, err
	}
	order := map[string]int{}
	for _, i := range todo {
		order[digests[i]] = len(order)
		r.Stats.Layers++
		r.Stats.Files += results[i].files
		r.Stats.Bytes += results[i].bytes
		r.Warnings = append(r.Warnings, results[i].warnings...)
		r.addFindings(results[i].findings)
	}
	r.sortFindings(order)
	r.Stats.DurationMS = time.Since(start).Milliseconds()
	return r, nil
}

// ScanIndex is Scan for an image index (an OCI layout, a multi-platform image): the
// index's own strings, then every image it lists, each layer searched once.
func ScanIndex(ctx context.Context, idx v1.ImageIndex, secrets map[string][]byte, opts Options) (*Report, error) {
	start := time.Now()
	m, done, err := matcherFor(secrets, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	d, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("auditing index: reading digest: %w", err)
	}
	r := newReport(m, opts, d.String())
	r.Digest = d.String()
	layerOrder := map[string]int{}
	if err := m.scanIndex(ctx, idx, "", r, map[string]bool{}, layerOrder, opts); err != nil {
		return nil, err
	}
	r.sortFindings(layerOrder)
	r.Stats.DurationMS = time.Since(start).Milliseconds()
	return r, nil
}

func (m *matcher) scanIndex(ctx context.Context, idx v1.ImageIndex, label string, r *Report, seen map[string]bool, order map[string]int, opts Options) error {
	raw, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("auditing index: reading manifest: %w", err)
	}
	fs, err := m.scanJSON(raw, Location{Kind: KindIndex, Image: label})
	if err != nil {
		return fmt.Errorf("auditing index: %w", err)
	}
	r.addFindings(fs)
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("auditing index: %w", err)
	}
	for _, desc := range im.Manifests {
		switch {
		case desc.MediaType.IsIndex():
			child, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return fmt.Errorf("auditing index %s: %w", desc.Digest, err)
			}
			if err := m.scanIndex(ctx, child, desc.Digest.String(), r, seen, order, opts); err != nil {
				return err
			}
		case desc.MediaType.IsImage():
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return fmt.Errorf("auditing image %s: %w", desc.Digest, err)
			}
			if err := m.scanImage(ctx, img, desc.Digest.String(), r, seen, order, opts); err != nil {
				return err
			}
		default:
			r.Warnings = append(r.Warnings, fmt.Sprintf("index entry %s: media type %q not searched", desc.Digest, desc.MediaType))
		}
	}
	return nil
}

func (m *matcher) scanImage(ctx context.Context, img v1.Image, label string, r *Report, seen map[string]bool, order map[string]int, opts Options) error {
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("auditing image: reading manifest: %w", err)
	}
	fs, err := m.scanJSON(raw, Location{Kind: KindManifest, Image: label})
	if err != nil {
		return fmt.Errorf("auditing image manifest: %w", err)
	}
	r.addFindings(fs)
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("auditing image: reading config: %w", err)
	}
	fs, err = m.scanJSON(cfg, Location{Kind: KindConfig, Image: label})
	if err != nil {
		return fmt.Errorf("auditing image config: %w", err)
	}
	r.addFindings(fs)
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("auditing image: listing layers: %w", err)
	}
	digests := make([]string, len(layers))
	var todo []int
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("auditing layer %d: %w", i, err)
		}
		digests[i] = d.String()
		if _, ok := order[digests[i]]; !ok {
			order[digests[i]] = len(order)
		}
		if !seen[digests[i]] {
			seen[digests[i]] = true
			if opts.SkipLayer == nil || !opts.SkipLayer(digests[i]) {
				todo = append(todo, i)
			}
		}
	}
	results, err := m.scanLayers(ctx, layers, digests, todo, label, opts)
	if err != nil {
		return err
	}
	for _, i := range todo {
		res := results[i]
		r.Stats.Layers++
		r.Stats.Files += res.files
		r.Stats.Bytes += res.bytes
		if size, err := layers[i].Size(); err == nil {
			r.Stats.CompressedBytes += size
		}
		r.Warnings = append(r.Warnings, res.warnings...)
		for fi := range res.findings {
			loc := &res.findings[fi].Location
			loc.Deleted = loc.Path != "" && deletedLater(loc.Path, results[i+1:])
		}
		r.addFindings(res.findings)
	}
	return nil
}

// scanLayers searches layers[todo...] in parallel, largest first, and returns results by
// layer index. Layers not in todo (already searched under another image of an index)
// get empty results.
func (m *matcher) scanLayers(ctx context.Context, layers []v1.Layer, digests []string, todo []int, label string, opts Options) ([]*layerResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sizes := make([]int64, len(layers))
	for _, i := range todo {
		sizes[i], _ = layers[i].Size()
	}
	order := append([]int(nil), todo...)
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
	results := make([]*layerResult, len(layers))
	for i := range results {
		results[i] = &layerResult{paths: map[string]bool{}}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := 0; w < min(opts.workers(), max(1, len(order))); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res, err := m.scanLayer(ctx, layers[i], Location{Kind: KindLayer, Image: label, Layer: digests[i]}, opts)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("auditing layer %s: %w", digests[i], err)
						cancel(first)
					}
					mu.Unlock()
					continue
				}
				results[i] = res
			}
		}()
	}
	for _, i := range order {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("auditing layers: %w", context.Cause(ctx))
	}
	return results, nil
}

func (m *matcher) scanLayer(ctx context.Context, l v1.Layer, base Location, opts Options) (*layerResult, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("opening layer: %w", err)
	}
	defer rc.Close()
	return m.scanTar(ctx, rc, opts.bufSize, base)
}

// deletedLater reports whether a later layer removes or replaces p.
func deletedLater(p string, later []*layerResult) bool {
	for _, res := range later {
		if res == nil {
			continue
		}
		if res.paths[p] {
			return true
		}
		for _, w := range res.whiteouts {
			if p == w || strings.HasPrefix(p, w+"/") {
				return true
			}
		}
		for _, d := range res.opaques {
			if strings.HasPrefix(p, d+"/") {
				return true
			}
		}
	}
	return false
}
