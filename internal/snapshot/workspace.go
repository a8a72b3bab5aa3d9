package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/scratch"
	"golang.org/x/sys/unix"
)

// ErrStillMounted is returned when a workspace is removed or committed while
// its merged dir is still mounted.
var ErrStillMounted = errors.New("still mounted")

// Workspace is the set of fresh directories one RUN step needs: an overlay
// upperdir, its workdir and the mount point of the merged view.
type Workspace struct {
	Upper, Work, Merged string

	dir    *scratch.Dir
	empty  string   // empty lower used when a step has no parent layers
	lowers []string // of the last Mount, top-most first
}

// NewWorkspace creates a workspace with fresh, empty dirs under the store root.
func (s *Store) NewWorkspace() (*Workspace, error) {
	d, err := scratch.New(filepath.Join(s.root, workspacesDir))
	if err != nil {
		return nil, fmt.Errorf("creating workspace: %w", err)
	}
	w := &Workspace{
		Upper:  filepath.Join(d.Path(), "u"),
		Work:   filepath.Join(d.Path(), "w"),
		Merged: filepath.Join(d.Path(), "m"),
		empty:  filepath.Join(d.Path(), "e"),
		dir:    d,
	}
	for _, p := range []string{w.Upper, w.Work, w.Merged, w.empty} {
		if err := os.Mkdir(p, 0o755); err != nil {
			d.Remove()
			return nil, fmt.Errorf("creating workspace: %w", err)
		}
	}
	// The upper's root becomes the container's "/": make it 0755 whatever
	// the umask is.
	if err := os.Chmod(w.Upper, 0o755); err != nil {
		d.Remove()
		return nil, fmt.Errorf("creating workspace: %w", err)
	}
	return w, nil
}

// Remove deletes the workspace's dirs (the upper too, unless Commit already
// moved it into the store). It refuses while Merged is still mounted.
func (w *Workspace) Remove() error {
	if !w.dir.Held() {
		return nil
	}
	mounted, err := isMountPoint(w.Merged)
	if err != nil {
		return fmt.Errorf("removing workspace: %w", err)
	}
	if mounted {
		return fmt.Errorf("removing workspace: %s: %w", w.Merged, ErrStillMounted)
	}
	if err := w.dir.Remove(); err != nil {
		return fmt.Errorf("removing workspace: %w", err)
	}
	return nil
}

// Prune removes temp dirs and workspaces under root left by builds that died (their lock
// is free), detaching a merged mount they left behind first; an upper dir a killed step
// wrote a secret into goes with them. Dirs of live builds are left alone. A missing root
// is not an error.
func Prune(root string) error {
	return errors.Join(
		scratch.Sweep(filepath.Join(root, tempDir), nil),
		scratch.Sweep(filepath.Join(root, workspacesDir), detachMerged),
	)
}

func detachMerged(dir string) error {
	merged := filepath.Join(dir, "m")
	if mounted, err := isMountPoint(merged); err == nil && mounted {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detaching %s: %w", merged, err)
		}
	}
	return nil
}
