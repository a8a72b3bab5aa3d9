package remotecache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/outfile"
)

// A local cache is an OCI image layout directory, as buildx's type=local: blobs under
// blobs/sha256, the cache manifest named in index.json by its tag.
const (
	annotationRefName = "org.opencontainers.image.ref.name"
	layoutFile        = "oci-layout"
	layoutContent     = `{"imageLayoutVersion":"1.0.0"}`
	lockFile          = ".hush-cache.lock" // serializes index.json updates
)

// writeLocal writes img's blobs into the layout at dir (created if missing) and names its
// manifest tag in index.json, keeping the other tags. Every file is written under a
// temporary name and renamed, so a killed export leaves no half-written blob or index.
func writeLocal(dir, tag string, img v1.Image) error {
	dir, err := outfile.FollowDir(filepath.Clean(dir))
	if err != nil {
		return err
	}
	if outfile.IsRoot(dir) {
		return fmt.Errorf("%s is the root directory, refusing to write there", dir)
	}
	if err := checkLayoutDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	if err := writeBlobs(dir, img); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := outfile.Write(filepath.Join(dir, layoutFile), 0o644, writeBytes([]byte(layoutContent))); err != nil {
		return err
	}
	return putIndex(dir, tag, img)
}

// checkLayoutDir refuses a dir that holds files but is not an OCI layout, so a typo never
// mixes a cache into unrelated files.
func checkLayoutDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, layoutFile)); err != nil {
		return fmt.Errorf("%s is not empty and not an OCI layout; refusing to write a cache into it", dir)
	}
	return nil
}

// writeBlobs writes the config, every layer and the manifest, skipping blobs already there.
func writeBlobs(dir string, img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := writeBlob(dir, m.Config.Digest, m.Config.Size, writeBytes(rawCfg)); err != nil {
		return err
	}
	for _, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return err
		}
		err = writeBlob(dir, d.Digest, d.Size, func(w io.Writer) error {
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(w, rc)
			return err
		})
		if err != nil {
			return err
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	return writeBlob(dir, sha256Hash(raw), int64(len(raw)), writeBytes(raw))
}

func writeBlob(dir string, d v1.Hash, size int64, fill func(io.Writer) error) error {
	p := blobPath(dir, d)
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		return nil
	}
	if err := outfile.Write(p, 0o644, fill); err != nil {
		return fmt.Errorf("writing blob %s: %w", d, err)
	}
	return nil
}

func blobPath(dir string, d v1.Hash) string {
	return filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
}

// putIndex points tag at img's manifest in index.json.
func putIndex(dir, tag string, img v1.Image) error {
	idx, err := readIndex(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if idx == nil {
		idx = &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	}
	desc, err := descriptor(img)
	if err != nil {
		return err
	}
	desc.Annotations = map[string]string{annotationRefName: tag}
	kept := []v1.Descriptor{}
	for _, d := range idx.Manifests {
		if d.Annotations[annotationRefName] != tag {
			kept = append(kept, d)
		}
	}
	idx.Manifests = append(kept, desc)
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return outfile.Write(filepath.Join(dir, "index.json"), 0o644, writeBytes(raw))
}

func descriptor(img v1.Image) (v1.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: sha256Hash(raw), ArtifactType: m.ArtifactType}, nil
}

func readIndex(dir string) (*v1.IndexManifest, error) {
	f, err := os.Open(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idx, err := v1.ParseIndexManifest(io.LimitReader(f, maxMetadata))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, "index.json"), err)
	}
	return idx, nil
}

// lockDir takes the layout's lock: concurrent exports (bake targets) update index.json in
// turn.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

// maxMetadata bounds what is read of a manifest, a config or an index (a cache of a
// thousand steps is well under a megabyte).
const maxMetadata = 16 << 20
