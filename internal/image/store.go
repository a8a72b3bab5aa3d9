package image

import (
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/scratch"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// ErrNotFound is returned (wrapped) when a reference matches no stored image.
var ErrNotFound = errors.New("image not found")

const (
	// AnnotationRefName is the OCI annotation naming a manifest in index.json.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationImageName is containerd's (and BuildKit's) full image name annotation.
	AnnotationImageName = "io.containerd.image.name"

	ociLayoutFile    = "oci-layout"
	ociLayoutContent = `{"imageLayoutVersion":"1.0.0"}`
	indexFile        = "index.json"
	lockFile         = "index.json.lock"
	tmpDirName       = ".tmp"
)

// Store is hush's local image store: an OCI image layout at dir (blobs/sha256,
// index.json, oci-layout). A name is an org.opencontainers.image.ref.name
// annotation holding the normalized name; an image with several names has
// one index.json descriptor per name, an image with none has one descriptor
// without the annotation (shown as <none>, like docker's dangling images).
//
// A Store is safe for concurrent use by several goroutines and several hush
// processes: index.json changes happen under an flock on index.json.lock and
// land via temp file + rename; blobs land via temp file + rename.
//
// Remove deletes the blobs only the removed image used; a Load that fails
// deletes the blobs it added that no image uses. A blob committed with
// NewBlob but not yet referenced by a Put is not protected: if an rmi of an
// image sharing that exact layer, or a failing load of one, runs in between,
// the later Put fails with a clear "blob not found" error rather than storing
// a broken image.
type Store struct {
	dir    string
	leases *lease.Leases // nil: no build holds anything
}

// Entry describes one stored image.
type Entry struct {
	Names   []string  // normalized names, in index order; empty for <none>
	ID      v1.Hash   // config digest (docker's image ID)
	Digest  v1.Hash   // manifest digest
	Created time.Time // from the config
	Size    int64     // bytes of manifest, config and (compressed) layers
	Labels  map[string]string
}

// OpenStore opens the store at dir, creating an empty OCI layout if needed.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("opening image store: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", dir, err)
	}
	s := &Store{dir: abs}
	for _, d := range []string{filepath.Join(abs, "blobs", "sha256"), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("opening image store %s: %w", dir, err)
		}
	}
	if err := s.initLayout(); err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", dir, err)
	}
	s.removeStaleTemps()
	return s, nil
}

// Dir is the store's directory (an OCI image layout).
func (s *Store) Dir() string { return s.dir }

func (s *Store) tmpDir() string { return filepath.Join(s.dir, tmpDirName) }

func (s *Store) initLayout() error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	layoutPath := filepath.Join(s.dir, ociLayoutFile)
	b, err := os.ReadFile(layoutPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := writeFileAtomic(layoutPath, []byte(ociLayoutContent)); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("reading oci-layout: %w", err)
	default:
		var l struct {
			ImageLayoutVersion string `json:"imageLayoutVersion"`
		}
		if err := json.Unmarshal(b, &l); err != nil || l.ImageLayoutVersion != "1.0.0" {
			return fmt.Errorf("reading oci-layout: unsupported content %q", b)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, indexFile)); errors.Is(err, os.ErrNotExist) {
		return s.writeIndex(&v1.IndexManifest{})
	} else if err != nil {
		return fmt.Errorf("checking index.json: %w", err)
	}
	return nil
}

// removeStaleTemps drops what killed writers left in the temp dir: a blob temp file whose
// flock is free, a load's scratch dir whose lock is free (scratch.Sweep), a file not yet
// locked (.new-*) once it is old.
func (s *Store) removeStaleTemps() {
	_ = scratch.Sweep(s.tmpDir(), nil)
	ents, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(s.tmpDir(), e.Name())
		if !e.Type().IsRegular() {
			continue
		}
		if strings.HasPrefix(e.Name(), newTempPrefix) {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > scratch.Grace {
				os.Remove(p)
			}
			continue
		}
		if unlocked(p) {
			os.Remove(p)
		}
	}
}

// unlocked reports a file nobody holds an flock on.
func unlocked(p string) bool {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// lock takes the store-wide exclusive lock guarding index.json changes.
// flock locks belong to the open file description, so this excludes other
// goroutines of this process as well as other processes.
func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening store lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking store: %w", err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// readIndex reads index.json. Readers need no lock: writers replace the
// file by rename, so a reader sees either the old or the new index.
func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, indexFile))
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parsing index.json: %w", err)
	}
	return idx, nil
}

// writeIndex replaces index.json atomically. Callers hold the lock.
func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	idx.SchemaVersion = 2
	idx.MediaType = types.OCIImageIndex
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encoding index.json: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.dir, indexFile), b)
}

// writeFileAtomic writes data to a temp file beside path, syncs it and
// renames it over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", filepath.Base(path), err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Image looks an image up by name[:tag] (normalized like docker), by
// name@digest (manifest digest), or by image ID (the config digest, full or a
// prefix of at least 4 hex digits; an ambiguous prefix is an error).
func (s *Store) Image(ref string) (v1.Image, Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, Entry{}, err
	}
	m, err := s.find(idx, ref)
	if err != nil {
		return nil, Entry{}, err
	}
	img, err := s.image(m.digest)
	if err != nil {
		return nil, Entry{}, fmt.Errorf("loading image %q: %w", ref, err)
	}
	e, err := s.entry(idx, m.digest)
	if err != nil {
		return nil, Entry{}, fmt.Errorf("loading image %q: %w", ref, err)
	}
	return img, e, nil
}

// ImageByDigest returns the stored image whose manifest digest is d (named or not).
func (s *Store) ImageByDigest(d v1.Hash) (v1.Image, error) {
	img, err := s.image(d)
	if err != nil {
		return nil, fmt.Errorf("loading image %s: %w", d, err)
	}
	return img, nil
}

// List returns every stored image, newest first.
func (s *Store) List() ([]Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	seen := map[v1.Hash]bool{}
	for _, d := range idx.Manifests {
		if seen[d.Digest] || !isImageMediaType(d.MediaType) {
			continue
		}
		seen[d.Digest] = true
		e, err := s.entry(idx, d.Digest)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed (rmi) since the index was read
		}
		if err != nil {
			return nil, fmt.Errorf("listing images: %w", err)
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Digest.String(), b.Digest.String())
	})
	return out, nil
}

func isImageMediaType(mt types.MediaType) bool {
	return mt == types.OCIManifestSchema1 || mt == types.DockerManifestSchema2
}

// namesOf lists the names index.json gives digest, in index order.
func namesOf(idx *v1.IndexManifest, digest v1.Hash) []string {
	var names []string
	for _, d := range idx.Manifests {
		if d.Digest == digest {
			if n := d.Annotations[AnnotationRefName]; n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// entry describes the image with manifest digest, reading its manifest and config.
func (s *Store) entry(idx *v1.IndexManifest, digest v1.Hash) (Entry, error) {
	raw, m, err := s.readManifest(digest)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Names: namesOf(idx, digest), ID: m.Config.Digest, Digest: digest, Size: int64(len(raw)) + m.Config.Size}
	for _, l := range m.Layers {
		e.Size += l.Size
	}
	cfgRaw, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return Entry{}, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return Entry{}, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	e.Created, e.Labels = cfg.Created.Time, cfg.Config.Labels
	return e, nil
}

// readBlob reads a small blob (manifest, config) and checks its digest.
func (s *Store) readBlob(d v1.Hash) ([]byte, error) {
	b, err := os.ReadFile(s.blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("hashing blob %s: %w", d, err)
	}
	if got != d {
		return nil, fmt.Errorf("reading blob %s: content has digest %s", d, got)
	}
	return b, nil
}

func (s *Store) readManifest(d v1.Hash) ([]byte, *v1.Manifest, error) {
	raw, err := s.readBlob(d)
	if err != nil {
		return nil, nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("parsing manifest %s: %w", d, err)
	}
	return raw, m, nil
}
