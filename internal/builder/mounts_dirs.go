package builder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/gc"
	"github.com/hush-build/hush/internal/plan"
)

// cacheMount binds a persistent cache directory, honouring sharing=shared|private|locked.
func (r *run) cacheMount(ctx context.Context, st *plan.Stage, sm *stepMounts, m *instructions.Mount, target string) error {
	id := m.CacheID
	if id == "" {
		id = path.Clean(m.Target)
	}
	if err := os.MkdirAll(r.b.CacheMountDir, 0o700); err != nil {
		return fmt.Errorf("creating cache mount dir: %w", err)
	}
	dir := r.cacheDir(id)
	lock, err := openMountLock(dir, id)
	if err != nil {
		return err
	}
	sm.cleanup = append(sm.cleanup, func() { lock.Close() })
	switch m.CacheSharing {
	case instructions.MountSharingLocked:
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
	case instructions.MountSharingPrivate:
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			// Another step holds it: a private mount gets a fresh, throw-away dir.
			tmp, err := os.MkdirTemp(r.s.dir(), "private-cache-")
			if err != nil {
				return fmt.Errorf("creating private cache %s: %w", id, err)
			}
			sm.cleanup = append(sm.cleanup, func() { os.RemoveAll(tmp) })
			dir = tmp
			if err := os.Chmod(dir, octal(m.Mode, 0o755)); err != nil {
				return err
			}
		}
	default:
		err = unix.Flock(int(lock.Fd()), unix.LOCK_SH)
	}
	if err != nil {
		return fmt.Errorf("locking cache %s: %w", id, err)
	}
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		if err := r.createCacheDir(ctx, st, m, dir); err != nil {
			return err
		}
	}
	opts := []string{"rbind", "nodev"}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	sm.add(specs.Mount{Destination: target, Type: "bind", Source: dir, Options: opts})
	return nil
}

// openMountLock opens the lock of cache mount dir (package gc's MountLock), which holds the
// mount's id (hush du shows it) and, as its mtime, when a step last used it.
func openMountLock(dir, id string) (*os.File, error) {
	lock, err := os.OpenFile(gc.MountLock(dir), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking cache %s: %w", id, err)
	}
	if fi, err := lock.Stat(); err == nil && fi.Size() == 0 {
		_, _ = lock.WriteAt([]byte(id), 0)
	}
	now := time.Now()
	_ = os.Chtimes(lock.Name(), now, now)
	return lock, nil
}

// createCacheDir makes a cache dir (seeded from from=/source= when given) and renames it
// into place, so a half-made cache is never used.
func (r *run) createCacheDir(ctx context.Context, st *plan.Stage, m *instructions.Mount, dir string) error {
	tmp, err := os.MkdirTemp(r.s.dir(), "new-cache-")
	if err != nil {
		return fmt.Errorf("creating cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if m.From != "" {
		root, done, err := r.stageRoot(ctx, st, m.From)
		if err != nil {
			return err
		}
		err = fscopy.Copy(fscopy.Source{Root: root}, []string{path.Join("/", m.Source)}, tmp, "/", "/", fscopy.Options{KeepOwner: true})
		done()
		if err != nil {
			return fmt.Errorf("seeding cache from %s: %w", m.From, err)
		}
	}
	if err := os.Chown(tmp, num(m.UID), num(m.GID)); err != nil {
		return fmt.Errorf("creating cache: %w", err)
	}
	if err := os.Chmod(tmp, octal(m.Mode, 0o755)); err != nil {
		return fmt.Errorf("creating cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("creating cache: %w", err)
	}
	return nil
}

// stageRoot mounts the filesystem of a stage or image read-only and returns its path.
func (r *run) stageRoot(ctx context.Context, st *plan.Stage, from string) (string, func(), error) {
	fs, _ := r.plan.ResolveFrom(st, from)
	fr, err := r.fromSource(ctx, st, from, fs)
	if err != nil {
		return "", nil, err
	}
	lowers, err := r.lowers(fr.layers)
	if err != nil {
		return "", nil, err
	}
	dir, rm, err := r.s.mountDir()
	if err != nil {
		return "", nil, err
	}
	unmount, err := r.b.mounts.MountReadOnly(lowers, dir)
	if err != nil {
		rm()
		return "", nil, fmt.Errorf("mounting %s: %w", from, err)
	}
	return dir, func() { _ = unmount(); rm() }, nil
}

// bindMount shows a path of the context, a stage or an image at target: read-only, or
// read-write with every write discarded after the step.
func (r *run) bindMount(ctx context.Context, st *plan.Stage, sm *stepMounts, m *instructions.Mount, target string) error {
	src := path.Join("/", m.Source)
	bctx, _, err := r.dirContext(ctx, st, m.From)
	if err != nil {
		return err
	}
	if m.From == "" {
		bctx = r.opts.Context
	}
	var host string
	live := ""
	if bctx != nil && len(bctx.Patterns()) == 0 {
		h, err := scopedPath(bctx.Dir(), src)
		if err != nil {
			return err
		}
		live = h
	}
	// A context itself is bound only when nothing in it is live: a unix socket (an
	// agent, a docker.sock in a home dir) would let the step talk to a host process, so
	// such a context is copied, as with a .dockerignore.
	if live != "" && !hasSockets(live) {
		host = live
	} else if bctx != nil {
		dir, h, err := r.contextView(bctx, src)
		if err != nil {
			return err
		}
		sm.cleanup = append(sm.cleanup, func() { os.RemoveAll(dir) })
		host = h
	} else {
		dir, done, err := r.stageRoot(ctx, st, m.From)
		if err != nil {
			return err
		}
		sm.cleanup = append(sm.cleanup, done)
		if host, err = scopedPath(dir, src); err != nil {
			return err
		}
	}
	fi, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("source %s: %w", m.Source, err)
	}
	if !m.ReadOnly && fi.IsDir() {
		ws, err := r.b.Snapshots.NewWorkspace()
		if err != nil {
			return err
		}
		unmount, err := r.b.mounts.Mount(ws, []string{host})
		if err != nil {
			ws.Remove()
			return err
		}
		sm.cleanup = append(sm.cleanup, func() { _ = unmount(); ws.Remove() })
		host = ws.Merged
	}
	// bind, not rbind: a mount under the context (a host /dev, a data disk) stays out.
	opts := []string{"bind", "nodev"}
	if m.ReadOnly || !fi.IsDir() {
		opts = append(opts, "ro")
	}
	sm.add(specs.Mount{Destination: target, Type: "bind", Source: host, Options: opts})
	return nil
}

// contextView copies the path src of a build context, with its .dockerignore applied,
// into a temp dir; it returns the dir (to remove afterwards) and the path the mount shows.
func (r *run) contextView(c *buildcontext.Context, src string) (string, string, error) {
	dir, _, err := r.s.mountDir()
	if err != nil {
		return "", "", err
	}
	dest, host := "/data/", filepath.Join(dir, "data")
	if fi, err := statIn(c.Dir(), src); err == nil && !fi.IsDir() && src != "/" {
		dest, host = "/data/"+path.Base(src), filepath.Join(dir, "data", path.Base(src))
	}
	if err := fscopy.Copy(r.sourceOf(c), []string{src}, dir, dest, "/", fscopy.Options{KeepOwner: true}); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, host, nil
}

// scopedPath resolves p inside root, symlinks followed inside it as in the container, and
// returns the host path of what it names.
func scopedPath(root, p string) (string, error) {
	r, err := fsroot.Open(root)
	if err != nil {
		return "", err
	}
	defer r.Close()
	rel, err := r.Resolve(p)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", p, err)
	}
	if _, err := r.Lstat(rel); err != nil {
		return "", fmt.Errorf("source %s: %w", p, err)
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}

// hasSockets reports whether the tree at p holds a unix socket (or cannot be walked).
func hasSockets(p string) bool {
	found := errors.New("found")
	err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSocket != 0 {
			return found
		}
		return nil
	})
	return err != nil
}

// statIn describes what p names inside root (symlinks resolved inside it).
func statIn(root, p string) (fs.FileInfo, error) {
	r, err := fsroot.Open(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Stat(p)
}
