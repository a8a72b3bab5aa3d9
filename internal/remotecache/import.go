package remotecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/registry"
)

// Source is one imported cache: its records by key, and where their layers are fetched.
type Source struct {
	name    string
	img     v1.Image
	records map[string]*cache.Record
	layers  map[string]v1.Descriptor // by digest: the manifest's descriptor
	pulled  atomic.Int64             // bytes fetched from it: the manifest, config and layers
	hits    atomic.Int64             // records looked up and found
}

// ErrTampered marks a blob whose content is not what the cache manifest says.
var ErrTampered = errors.New("content does not match its digest")

// Load reads the cache im names. A cache that is not there (a first build), unreadable or
// of another format is an error the caller warns about and builds without; IsSkip tells a
// cache that is there but in a format this hush does not use.
func Load(ctx context.Context, im Import, a Access) (*Source, error) {
	s := &Source{name: im.String()}
	var err error
	switch im.Type {
	case TypeRegistry:
		s.img, err = registry.Pull(ctx, im.Ref, a.Keychain, &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, a.options(im.Insecure)...)
	case TypeLocal:
		s.img, err = openLocal(im)
	default:
		err = fmt.Errorf("unknown cache type %q", im.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("importing cache from %s: %w", s.name, err)
	}
	if err := s.read(); err != nil {
		return nil, fmt.Errorf("importing cache from %s: %w", s.name, err)
	}
	return s, nil
}

// IsSkip reports a Load error for a cache in a format this hush does not read.
func IsSkip(err error) bool { return errors.Is(err, errSkip) }

// openLocal finds the manifest a local import names (by digest, else by tag) and checks
// that it is what its digest says.
func openLocal(im Import) (v1.Image, error) {
	idx, err := readIndex(im.Src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no OCI layout at %s (no index.json)", im.Src)
	}
	if err != nil {
		return nil, err
	}
	var desc *v1.Descriptor
	for i, d := range idx.Manifests {
		if (im.Digest != "" && d.Digest.String() == im.Digest) || (im.Digest == "" && d.Annotations[annotationRefName] == im.Tag) {
			desc = &idx.Manifests[i]
		}
	}
	if desc == nil {
		return nil, fmt.Errorf("%s: not in %s", im, filepath.Join(im.Src, "index.json"))
	}
	img, err := layout.Path(im.Src).Image(desc.Digest)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	if sha256Hash(raw) != desc.Digest {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, ErrTampered)
	}
	return img, nil
}

// read loads the records: from the config of a hush cache manifest, or from an image's
// inline cache annotation.
func (s *Source) read() error {
	raw, err := s.img.RawManifest()
	if err != nil {
		return err
	}
	s.pulled.Add(int64(len(raw)))
	m, err := s.img.Manifest()
	if err != nil {
		return err
	}
	var rawCfg []byte
	switch {
	case m.Config.MediaType == ConfigMediaType:
		if rawCfg, err = s.img.RawConfigFile(); err != nil {
			return fmt.Errorf("reading the cache config: %w", err)
		}
		if sha256Hash(rawCfg) != m.Config.Digest {
			return fmt.Errorf("the cache config %s: %w", m.Config.Digest, ErrTampered)
		}
		s.pulled.Add(int64(len(rawCfg)))
	case m.Annotations[InlineAnnotation] != "":
		rawCfg = []byte(m.Annotations[InlineAnnotation])
	default:
		return fmt.Errorf("neither a hush cache manifest nor an image with a hush inline cache: %w", errSkip)
	}
	cfg, err := parseConfig(rawCfg, m.Layers)
	if err != nil {
		return err
	}
	s.records = map[string]*cache.Record{}
	s.layers = map[string]v1.Descriptor{}
	for i, l := range cfg.Layers {
		s.layers[l.Digest] = m.Layers[i]
	}
	for _, r := range cfg.Records {
		rec := &cache.Record{Created: r.Created}
		if r.Layer != nil {
			li, d := cfg.Layers[*r.Layer], m.Layers[*r.Layer]
			rec.Layer = &cache.Layer{Digest: li.Digest, DiffID: li.DiffID, Size: d.Size, MediaType: string(d.MediaType)}
		}
		s.records[r.Key] = rec
	}
	return nil
}

// String names the source.
func (s *Source) String() string { return s.name }

// Len is the number of records.
func (s *Source) Len() int { return len(s.records) }

// Pulled is the bytes fetched from the source so far; Hits the records looked up and found.
func (s *Source) Pulled() int64 { return s.pulled.Load() }
func (s *Source) Hits() int64   { return s.hits.Load() }

// Lookup returns the record of key (a copy).
func (s *Source) Lookup(key string) (*cache.Record, bool) {
	r, ok := s.records[key]
	if !ok {
		return nil, false
	}
	s.hits.Add(1)
	c := *r
	if r.Layer != nil {
		l := *r.Layer
		c.Layer = &l
	}
	return &c, true
}

// Fetch streams the layer's blob to w and verifies it on the way: its size and digest, and
// the digest of its uncompressed tar (the diffID an image's config holds). On a mismatch
// it returns an error wrapping ErrTampered, after w has seen bytes it must discard.
func (s *Source) Fetch(ctx context.Context, l *cache.Layer, w io.Writer) error {
	desc, ok := s.layers[l.Digest]
	if !ok {
		return fmt.Errorf("layer %s is not in the cache %s", l.Digest, s.name)
	}
	layer, err := s.img.LayerByDigest(desc.Digest)
	if err != nil {
		return fmt.Errorf("fetching layer %s from %s: %w", l.Digest, s.name, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return fmt.Errorf("fetching layer %s from %s: %w", l.Digest, s.name, err)
	}
	defer rc.Close()
	n, err := verifiedCopy(ctx, w, rc, desc.Digest, desc.Size, l.DiffID)
	s.pulled.Add(n)
	if err != nil {
		return fmt.Errorf("fetching layer %s from %s: %w", l.Digest, s.name, err)
	}
	return nil
}

// Verify reads a layer blob and checks its digest and the digest of its uncompressed tar
// (diffID), as Fetch does.
func Verify(ctx context.Context, r io.Reader, digest v1.Hash, size int64, diffID string) error {
	_, err := verifiedCopy(ctx, io.Discard, r, digest, size, diffID)
	return err
}

// verifiedCopy copies r to w, checking its length against size, the sha256 of what it
// copied against digest and that of its gzip-decompressed content against diffID. A read
// error once size bytes were read is the reader's own digest check (a registry layer's):
// the content decides.
func verifiedCopy(ctx context.Context, w io.Writer, r io.Reader, digest v1.Hash, size int64, diffID string) (int64, error) {
	pr, pw := io.Pipe()
	diff := make(chan string, 1)
	go func() {
		h := sha256.New()
		zr, err := gzip.NewReader(pr)
		if err == nil {
			_, err = io.Copy(h, zr)
		}
		io.Copy(io.Discard, pr) // let the writer finish even when the gzip stream is bad
		pr.CloseWithError(err)
		if err != nil {
			diff <- "unreadable gzip stream: " + err.Error()
			return
		}
		diff <- "sha256:" + hex.EncodeToString(h.Sum(nil))
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h, pw), ctxReader{ctx, r})
	pw.CloseWithError(err)
	got := <-diff
	if err != nil && n != size {
		return n, err
	}
	if n != size {
		return n, fmt.Errorf("%d bytes, the manifest says %d: %w", n, size, ErrTampered)
	}
	if d := "sha256:" + hex.EncodeToString(h.Sum(nil)); d != digest.String() {
		return n, fmt.Errorf("its content has digest %s: %w", d, ErrTampered)
	}
	if err != nil {
		return n, err
	}
	if got != diffID {
		return n, fmt.Errorf("its uncompressed content is %s, the cache says diffID %s: %w", got, diffID, ErrTampered)
	}
	return n, nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
