package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/hush-build/hush/internal/lease"
)

// Import stores a root filesystem tar (plain or gzip/zstd/bzip2
// compressed) as a one-layer image, like `docker import`: the layer is the
// tar gzip-compressed as is, the config says linux/GOARCH, and the history
// says "Imported from -". An empty name stores the image as <none>.
func (s *Store) Import(r io.Reader, ref string) (Entry, error) {
	var names []string
	if ref != "" {
		n, err := NormalizeName(ref)
		if err != nil {
			return Entry{}, fmt.Errorf("importing rootfs: %w", err)
		}
		names = []string{n}
	}
	// The import holds its layer blob until the image names it (a prune meanwhile).
	hold, err := s.acquire()
	if err != nil {
		return Entry{}, fmt.Errorf("importing rootfs: %w", err)
	}
	defer hold.Release()
	layer, err := s.importLayer(r, hold)
	if err != nil {
		return Entry{}, fmt.Errorf("importing rootfs: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: now}, CreatedBy: "Imported from -"},
	})
	if err != nil {
		return Entry{}, fmt.Errorf("importing rootfs: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Entry{}, fmt.Errorf("importing rootfs: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", runtime.GOARCH, v1.Time{Time: now}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return Entry{}, fmt.Errorf("importing rootfs: %w", err)
	}
	e, err := s.Put(img, names...)
	if err != nil {
		return Entry{}, fmt.Errorf("importing rootfs: %w", err)
	}
	return e, nil
}

// importLayer gzips the (decompressed) rootfs tar into a store blob while
// hashing the plain bytes for the DiffID, checking it really is a tar.
func (s *Store) importLayer(r io.Reader, hold *lease.Lease) (v1.Layer, error) {
	plain, done, err := decompress(r)
	if err != nil {
		return nil, err
	}
	defer done()
	blob, err := s.NewBlob()
	if err != nil {
		return nil, err
	}
	defer blob.Abort()
	gz := gzip.NewWriter(blob)
	diff := v1.Hash{Algorithm: "sha256"}
	hasher := newSHA256()
	tee := io.TeeReader(plain, io.MultiWriter(gz, hasher))
	tr := tar.NewReader(tee)
	entries := 0
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading rootfs tar: %w", err)
		}
		entries++
	}
	if entries == 0 {
		return nil, errors.New("reading rootfs tar: no entries")
	}
	if _, err := io.Copy(io.Discard, tee); err != nil { // trailing padding
		return nil, fmt.Errorf("reading rootfs tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("compressing rootfs: %w", err)
	}
	diff.Hex = fmt.Sprintf("%x", hasher.Sum(nil))
	digest, size, err := blob.CommitHeld(hold)
	if err != nil {
		return nil, err
	}
	return s.BlobLayer(digest, diff, size, types.OCILayer)
}
