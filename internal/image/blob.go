package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/lease"
)

// BlobWriter writes one blob into the store: bytes go to a temp file inside
// the store, Commit moves it to blobs/sha256/<hex>. It is not safe for
// concurrent use; use one writer per blob.
type BlobWriter struct {
	store *Store
	f     *os.File
	name  string // the temp file's path
	h     hash.Hash
	n     int64
	done  bool
}

// NewBlob starts a blob in the store's temp directory. The temp file is flocked until it
// is committed or aborted, so that the next hush command removes it at once if this
// process is killed (a half-written layer may hold what a step wrote).
func (s *Store) NewBlob() (*BlobWriter, error) {
	// Named blob-* only once locked: a sweep never sees an unlocked blob-* of a live writer.
	f, err := os.CreateTemp(s.tmpDir(), newTempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("creating blob temp file: %w", err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	name := filepath.Join(s.tmpDir(), "blob-"+strings.TrimPrefix(filepath.Base(f.Name()), newTempPrefix))
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("locking blob temp file: %w", err)
	}
	return &BlobWriter{store: s, f: f, name: name, h: sha256.New()}, nil
}

// newTempPrefix names a temp file not yet locked (see NewBlob).
const newTempPrefix = ".new-"

// Write implements io.Writer.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("writing blob: already committed or aborted")
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing blob: %w", err)
	}
	return n, nil
}

// Commit syncs the blob and renames it to blobs/sha256/<hex>; when that blob
// already exists the temp file is dropped instead.
func (w *BlobWriter) Commit() (v1.Hash, int64, error) {
	d, n, _, err := w.commit(nil)
	return d, n, err
}

// CommitHeld is Commit with the blob held by l before it gets its name: no prune or
// removal can take a blob nothing names yet from under the build that wrote it.
func (w *BlobWriter) CommitHeld(l *lease.Lease) (v1.Hash, int64, error) {
	d, n, _, err := w.commit(l)
	return d, n, err
}

// commit is CommitHeld; placed tells whether the blob is new in the store.
func (w *BlobWriter) commit(l *lease.Lease) (v1.Hash, int64, bool, error) {
	if w.done {
		return v1.Hash{}, 0, false, errors.New("committing blob: already committed or aborted")
	}
	w.done = true
	tmp := w.name
	defer os.Remove(tmp) // no-op after a successful rename
	defer w.f.Close()    // the lock is held until the file has its final name
	if err := w.f.Sync(); err != nil {
		return v1.Hash{}, 0, false, fmt.Errorf("syncing blob: %w", err)
	}
	d := w.sum()
	if err := l.Hold(lease.BlobRef(d.String())); err != nil {
		return v1.Hash{}, 0, false, err
	}
	placed, err := w.store.placeBlob(tmp, d, w.n)
	if err != nil {
		return v1.Hash{}, 0, false, err
	}
	return d, w.n, placed, nil
}

// sum is the digest of what was written so far.
func (w *BlobWriter) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Abort drops the temp file. Safe to call after Commit (then a no-op).
func (w *BlobWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.Remove(w.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing blob temp file: %w", err)
	}
	return nil
}

// placeBlob renames a finished temp file to its content address, keeping an
// existing blob of the right size; placed tells whether it renamed.
func (s *Store) placeBlob(tmp string, d v1.Hash, size int64) (placed bool, err error) {
	dst := s.blobPath(d)
	if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		return false, nil
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return false, fmt.Errorf("setting blob mode: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return false, fmt.Errorf("placing blob %s: %w", d, err)
	}
	return true, nil
}

// Blob returns where blob d is kept and whether it is there.
func (s *Store) Blob(d v1.Hash) (string, bool) {
	p := s.blobPath(d)
	_, err := os.Lstat(p)
	return p, err == nil
}

func (s *Store) blobPath(d v1.Hash) string {
	return filepath.Join(s.dir, "blobs", d.Algorithm, d.Hex)
}

func (s *Store) hasBlob(d v1.Hash, size int64) bool {
	fi, err := os.Stat(s.blobPath(d))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// writeBlob copies r into the store under d, verifying digest and size
// before the blob gets a name, and holding it with l (if not nil) first;
// added tells whether the blob is new in the store.
func (s *Store) writeBlob(d v1.Hash, size int64, r io.Reader, l *lease.Lease) (added bool, err error) {
	if err := l.Hold(lease.BlobRef(d.String())); err != nil {
		return false, err
	}
	if s.hasBlob(d, size) {
		return false, nil
	}
	w, err := s.NewBlob()
	if err != nil {
		return false, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return false, fmt.Errorf("copying blob %s: %w", d, err)
	}
	if got := w.sum(); got != d || (size >= 0 && w.n != size) {
		return false, fmt.Errorf("copying blob %s: content has digest %s and size %d, want size %d", d, got, w.n, size)
	}
	_, _, added, err = w.commit(nil) // held above
	return added, err
}

// blobLayer is a compressed layer backed by a blob file in the store. It
// knows its DiffID, so nothing decompresses it to describe it.
type blobLayer struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
	mt     types.MediaType
}

var _ partial.CompressedLayer = (*blobLayer)(nil)
var _ partial.WithDiffID = (*blobLayer)(nil)

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)                { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("opening layer blob %s: %w", l.digest, err)
	}
	return f, nil
}

// BlobLayer returns a v1.Layer backed by blob digest in the store, described
// by the given diffID, size and media type (not recomputed).
func (s *Store) BlobLayer(digest, diffID v1.Hash, size int64, mt types.MediaType) (v1.Layer, error) {
	if digest.Algorithm != "sha256" || len(digest.Hex) != 64 {
		return nil, fmt.Errorf("opening blob layer: invalid digest %q", digest)
	}
	if !s.hasBlob(digest, size) {
		return nil, fmt.Errorf("opening blob layer %s (size %d): %w", digest, size, os.ErrNotExist)
	}
	return partial.CompressedToLayer(&blobLayer{path: s.blobPath(digest), digest: digest, diffID: diffID, size: size, mt: mt})
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func newSHA256() hash.Hash { return sha256.New() }

// RemoveBlobIfUnused deletes blob d unless an image in the store refers to it. Used to
// purge a layer that leaked a secret from a build that published nothing.
func (s *Store) RemoveBlobIfUnused(d v1.Hash) error {
	return s.removeBlobsIfUnused([]v1.Hash{d})
}

// removeBlobsIfUnused deletes each blob of ds that no image in the store refers to; one a
// lease holds is removed when that lease ends.
func (s *Store) removeBlobsIfUnused(ds []v1.Hash) error {
	return s.Collect(func(c *Collector) error {
		for _, d := range ds {
			if c.Used(d) {
				continue
			}
			if err := s.removeBlob(d, c.View); err != nil {
				return err
			}
		}
		return nil
	})
}

// referencedBlobs is every blob (manifest, config, layer) an image in idx uses.
func (s *Store) referencedBlobs(idx *v1.IndexManifest) (map[v1.Hash]bool, error) {
	used := map[v1.Hash]bool{}
	for _, desc := range idx.Manifests {
		used[desc.Digest] = true
		_, man, err := s.readManifest(desc.Digest)
		if err != nil {
			return nil, err
		}
		used[man.Config.Digest] = true
		for _, l := range man.Layers {
			used[l.Digest] = true
		}
	}
	return used, nil
}
