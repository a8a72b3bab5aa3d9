package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockName is the file inside every temp dir and workspace that its owning
// process holds an exclusive flock on for as long as the dir is in use. Prune
// removes only dirs whose lock it can take, i.e. whose owner has died.
const lockName = "lock"

// pruneGrace protects a dir created so recently that its owner may not have
// created and locked its lock file yet.
const pruneGrace = time.Minute

// ErrStillMounted is returned when a workspace is removed or committed while
// its merged dir is still mounted.
var ErrStillMounted = errors.New("still mounted")

// lockedDir is a fresh directory under a parent, held by this process.
type lockedDir struct {
	path string
	lock *os.File
}

func newLockedDir(parent string) (*lockedDir, error) {
	dir, err := os.MkdirTemp(parent, "")
	if err != nil {
		return nil, fmt.Errorf("creating temp dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &lockedDir{path: dir, lock: f}, nil
}

// remove deletes the dir and releases the lock. Safe to call twice.
func (d *lockedDir) remove() error {
	if d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.path)
	if err != nil {
		return fmt.Errorf("removing %s: %w", d.path, err)
	}
	d.lock.Close()
	d.lock = nil
	return nil
}

// Workspace is the set of fresh directories one RUN step needs: an overlay
// upperdir, its workdir and the mount point of the merged view.
type Workspace struct {
	Upper, Work, Merged string

	dir   *lockedDir
	empty string // empty lower used when a step has no parent layers
}

// NewWorkspace creates a workspace with fresh, empty dirs under the store root.
func (s *Store) NewWorkspace() (*Workspace, error) {
	d, err := newLockedDir(filepath.Join(s.root, workspacesDir))
	if err != nil {
		return nil, fmt.Errorf("creating workspace: %w", err)
	}
	w := &Workspace{
		Upper:  filepath.Join(d.path, "u"),
		Work:   filepath.Join(d.path, "w"),
		Merged: filepath.Join(d.path, "m"),
		empty:  filepath.Join(d.path, "e"),
		dir:    d,
	}
	for _, p := range []string{w.Upper, w.Work, w.Merged, w.empty} {
		if err := os.Mkdir(p, 0o755); err != nil {
			d.remove()
			return nil, fmt.Errorf("creating workspace: %w", err)
		}
	}
	// The upper's root becomes the container's "/": make it 0755 whatever
	// the umask is.
	if err := os.Chmod(w.Upper, 0o755); err != nil {
		d.remove()
		return nil, fmt.Errorf("creating workspace: %w", err)
	}
	return w, nil
}

// Remove deletes the workspace's dirs (the upper too, unless Commit already
// moved it into the store). It refuses while Merged is still mounted.
func (w *Workspace) Remove() error {
	if w.dir == nil || w.dir.lock == nil {
		return nil
	}
	mounted, err := isMountPoint(w.Merged)
	if err != nil {
		return fmt.Errorf("removing workspace: %w", err)
	}
	if mounted {
		return fmt.Errorf("removing workspace: %s: %w", w.Merged, ErrStillMounted)
	}
	if err := w.dir.remove(); err != nil {
		return fmt.Errorf("removing workspace: %w", err)
	}
	return nil
}

// Prune removes temp dirs and workspaces under root left by builds that died
// (their lock is free), detaching a merged mount they left behind first.
// Dirs of live builds are left alone. A missing root is not an error.
func Prune(root string) error {
	var errs []error
	for _, sub := range []string{tempDir, workspacesDir} {
		parent := filepath.Join(root, sub)
		ents, err := os.ReadDir(parent)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pruning %s: %w", parent, err))
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			if err := pruneDir(filepath.Join(parent, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func pruneDir(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fi, serr := os.Lstat(dir)
		if serr != nil {
			return fmt.Errorf("pruning %s: %w", dir, serr)
		}
		if time.Since(fi.ModTime()) < pruneGrace {
			return nil // owner may be about to create its lock
		}
	case err != nil:
		return fmt.Errorf("pruning %s: %w", dir, err)
	default:
		defer f.Close()
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil // live owner
			}
			return fmt.Errorf("pruning %s: locking: %w", dir, err)
		}
	}
	merged := filepath.Join(dir, "m")
	if mounted, err := isMountPoint(merged); err == nil && mounted {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("pruning %s: detaching %s: %w", dir, merged, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("pruning %s: %w", dir, err)
	}
	return nil
}
