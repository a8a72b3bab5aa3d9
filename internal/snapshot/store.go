package snapshot

import (
	"strings"

	"github.com/hush-build/hush/internal/lease"

	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hush-build/hush/internal/scratch"
	"golang.org/x/sys/unix"
)

// Layout under the store root. Names are one letter on purpose: overlay mount
// data is limited to one page, so every byte of a lowerdir path counts.
const (
	layersDir     = "l" // l/<sha256 hex>: unpacked layer dirs, immutable once renamed in
	tempDir       = "t" // t/<rand>/{lock,d}: unpacks in progress
	workspacesDir = "w" // w/<rand>/{lock,u,w,m,e}: workspaces of live builds
	sizesDir      = "s" // s/<sha256 hex>: the recorded disk usage of l/<hex>
)

// ErrInvalidDiffID is returned for a diffID that is not a well-formed sha256.
var ErrInvalidDiffID = errors.New("invalid diffID")

// ErrDiffIDMismatch is returned by Ensure when the opened tar does not hash to
// the requested diffID.
var ErrDiffIDMismatch = errors.New("layer content does not match diffID")

// Store keeps unpacked layers and workspaces under one root directory. It is
// safe for concurrent use by goroutines and by several processes sharing root.
type Store struct {
	root   string
	leases *lease.Leases // nil: no build holds anything

	mu       sync.Mutex
	inflight map[string]*ensureCall
}

type ensureCall struct {
	done chan struct{}
	dir  string
	err  error
}

// Open opens (creating if needed) the store rooted at root.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("opening snapshot store: empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening snapshot store %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("opening snapshot store: %w", err)
	}
	// Canonical path: mount points are compared and written canonically.
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("opening snapshot store %s: %w", root, err)
	}
	for _, d := range []string{layersDir, tempDir, workspacesDir, sizesDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("opening snapshot store: %w", err)
		}
	}
	return &Store{root: abs, inflight: map[string]*ensureCall{}}, nil
}

// Root returns the canonical root directory of the store.
func (s *Store) Root() string { return s.root }

// layerPath returns where the unpacked dir of diffID lives, or an error if
// diffID is not a well-formed sha256 (so it can never name another path).
func (s *Store) layerPath(diffID v1.Hash) (string, error) {
	if diffID.Algorithm != "sha256" || len(diffID.Hex) != 64 {
		return "", fmt.Errorf("%w: %q", ErrInvalidDiffID, diffID.String())
	}
	for _, c := range diffID.Hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("%w: %q", ErrInvalidDiffID, diffID.String())
		}
	}
	return filepath.Join(s.root, layersDir, diffID.Hex), nil
}

// Dir returns the unpacked dir of diffID and whether it exists.
func (s *Store) Dir(diffID v1.Hash) (string, bool) {
	p, err := s.layerPath(diffID)
	if err != nil {
		return "", false
	}
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() {
		return "", false
	}
	return p, true
}

// Ensure returns the unpacked dir for diffID, unpacking the uncompressed
// layer tar from open if it is missing. The tar is verified against diffID.
// Concurrent calls for the same diffID in one process unpack once; several
// processes may race, and the first rename into the store wins.
func (s *Store) Ensure(diffID v1.Hash, open func() (io.ReadCloser, error)) (string, error) {
	p, err := s.layerPath(diffID)
	if err != nil {
		return "", fmt.Errorf("ensuring layer: %w", err)
	}
	if dir, ok := s.Dir(diffID); ok {
		return dir, nil
	}
	s.mu.Lock()
	if c, ok := s.inflight[diffID.Hex]; ok {
		s.mu.Unlock()
		<-c.done
		return c.dir, c.err
	}
	c := &ensureCall{done: make(chan struct{})}
	s.inflight[diffID.Hex] = c
	s.mu.Unlock()

	c.dir, c.err = s.unpackLayer(diffID, p, open)

	s.mu.Lock()
	delete(s.inflight, diffID.Hex)
	s.mu.Unlock()
	close(c.done)
	return c.dir, c.err
}

func (s *Store) unpackLayer(diffID v1.Hash, final string, open func() (io.ReadCloser, error)) (string, error) {
	// Another goroutine may have finished between Dir and taking the flight.
	if dir, ok := s.Dir(diffID); ok {
		return dir, nil
	}
	tmp, err := scratch.New(filepath.Join(s.root, tempDir))
	if err != nil {
		return "", fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	defer tmp.Remove()

	rc, err := open()
	if err != nil {
		return "", fmt.Errorf("opening layer %s: %w", diffID, err)
	}
	defer rc.Close()
	h := sha256.New()
	tee := io.TeeReader(rc, h)
	dst := filepath.Join(tmp.Path(), "d")
	if err := Unpack(tee, dst); err != nil {
		return "", fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	// Hash trailing padding too: the diffID covers the whole stream.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return "", fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	if got := hexSum(h); got != diffID.Hex {
		return "", fmt.Errorf("unpacking layer %s: %w (got sha256:%s)", diffID, ErrDiffIDMismatch, got)
	}
	if err := renameNoReplace(dst, final); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			return final, nil // another process won the race; same content
		}
		return "", fmt.Errorf("storing layer %s: %w", diffID, err)
	}
	return final, nil
}

// Commit writes the OCI layer tar of w.Upper to out (uncompressed) and
// returns its diffID, then moves w.Upper into the store as the unpacked dir
// of that diffID (or deletes it if the store already has that layer).
// w.Merged must not be mounted.
func (s *Store) Commit(w *Workspace, out io.Writer) (v1.Hash, error) {
	return s.CommitHeld(w, out, nil)
}

// CommitHeld is Commit with the layer held by l before its dir gets its name in the
// store, so that no prune takes it from the build that made it.
func (s *Store) CommitHeld(w *Workspace, out io.Writer, l *lease.Lease) (v1.Hash, error) {
	if w == nil || w.Upper == "" {
		return v1.Hash{}, errors.New("committing workspace: no upper dir")
	}
	mounted, err := isMountPoint(w.Merged)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("committing workspace: %w", err)
	}
	if mounted {
		return v1.Hash{}, fmt.Errorf("committing workspace: %s: %w", w.Merged, ErrStillMounted)
	}
	h := sha256.New()
	if err := writeUpper(w.Upper, w.lowers, io.MultiWriter(out, h)); err != nil {
		return v1.Hash{}, fmt.Errorf("committing workspace: %w", err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hexSum(h)}
	final, err := s.layerPath(diffID)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("committing workspace: %w", err)
	}
	if err := l.Hold(lease.LayerRef(diffID.String())); err != nil {
		return v1.Hash{}, fmt.Errorf("committing workspace: %w", err)
	}
	if err := renameNoReplace(w.Upper, final); err != nil {
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
			return v1.Hash{}, fmt.Errorf("storing layer %s: %w", diffID, err)
		}
		if err := os.RemoveAll(w.Upper); err != nil {
			return v1.Hash{}, fmt.Errorf("removing duplicate upper of %s: %w", diffID, err)
		}
	}
	return diffID, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// renameNoReplace renames oldpath to newpath, failing with EEXIST if newpath
// exists (even as an empty dir, which plain rename(2) would replace).
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// Filesystem without RENAME_NOREPLACE: racy but best effort.
		if _, lerr := os.Lstat(newpath); lerr == nil {
			return unix.EEXIST
		}
		err = os.Rename(oldpath, newpath)
	}
	if err != nil {
		return fmt.Errorf("renaming %s to %s: %w", oldpath, newpath, err)
	}
	return nil
}

// ErrInUse is returned (wrapped) by Remove for a layer a running build holds: its removal
// happens when the last such build ends.
var ErrInUse = errors.New("in use by a running build; removed when it ends")

// UseLeases makes Remove defer the removal of layers a live lease holds.
func (s *Store) UseLeases(ls *lease.Leases) { s.leases = ls }

// exclusive runs fn inside the leases' Exclusive (v nil without leases).
func (s *Store) exclusive(fn func(v *lease.View) error) error {
	if s.leases == nil {
		return fn(nil)
	}
	return s.leases.Exclusive(fn)
}

// Remove deletes the unpacked dir of diffID, if present (purging a layer that leaked a
// secret). A layer a running build holds (it may be an overlay lower of a live mount) is
// left until that build ends, and Remove says so with ErrInUse.
func (s *Store) Remove(diffID v1.Hash) error {
	if _, ok := s.Dir(diffID); !ok {
		return nil
	}
	trash, err := scratch.New(filepath.Join(s.root, tempDir))
	if err != nil {
		return fmt.Errorf("removing layer %s: %w", diffID, err)
	}
	defer trash.Remove() // the slow part, after the lease lock is released
	return s.exclusive(func(v *lease.View) error {
		if ref := lease.LayerRef(diffID.String()); v != nil && v.Held(ref) {
			if err := v.Defer(ref); err != nil {
				return err
			}
			return fmt.Errorf("layer %s: %w", diffID, ErrInUse)
		}
		_, err := s.discard(diffID, trash)
		return err
	})
}

// RemoveIn moves the unpacked dir of diffID into trash (a scratch dir the caller removes
// once out of Exclusive) unless a lease in v holds it, and reports whether it did. v is
// the caller's Exclusive view (nil: nothing is held).
func (s *Store) RemoveIn(v *lease.View, diffID v1.Hash, trash *scratch.Dir) (bool, error) {
	if v != nil && v.Held(lease.LayerRef(diffID.String())) {
		return false, nil
	}
	return s.discard(diffID, trash)
}

// discard moves the unpacked dir of diffID (and its recorded size) into trash; a rename
// keeps the caller's lock short, and a trash dir left by a killed process is swept.
func (s *Store) discard(diffID v1.Hash, trash *scratch.Dir) (bool, error) {
	p, err := s.layerPath(diffID)
	if err != nil {
		return false, err
	}
	os.Remove(s.sizePath(diffID.Hex))
	err = os.Rename(p, filepath.Join(trash.Path(), diffID.Hex))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil { // another filesystem: remove in place
		if err := os.RemoveAll(p); err != nil {
			return false, fmt.Errorf("removing layer %s: %w", diffID, err)
		}
	}
	return true, nil
}

// CollectPending removes the layers whose removal a lease deferred, once no lease holds them.
func (s *Store) CollectPending() error {
	if s.leases == nil {
		return nil
	}
	trash, err := scratch.New(filepath.Join(s.root, tempDir))
	if err != nil {
		return fmt.Errorf("removing layers: %w", err)
	}
	defer trash.Remove()
	return s.exclusive(func(v *lease.View) error {
		refs, err := v.Pending("layer ")
		if err != nil {
			return err
		}
		var errs []error
		for _, r := range refs {
			d, err := v1.NewHash(strings.TrimPrefix(r, "layer "))
			if err != nil {
				continue
			}
			_, err = s.discard(d, trash)
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}
