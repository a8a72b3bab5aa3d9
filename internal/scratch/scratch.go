// Package scratch owns hush's per-process scratch directories under the state dir: each is
// held by an flock for as long as the process that made it lives, so that the next hush
// command can sweep what a killed one (kill -9, a crash, a power cut) left behind — an
// overlay upper dir with a file a step wrote, a half-fetched context — without ever
// touching a live build's dirs.
//
// It must never remove a directory whose lock is held, and never follow a symlink inside
// a directory it removes.
package scratch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/fsroot"
)

// lockName is the file inside every scratch dir that its owner holds an exclusive flock on.
const lockName = "lock"

// Grace protects a dir created so recently that its owner may not have locked it yet.
const Grace = time.Minute

// Dir is a fresh directory under a parent, held by this process.
type Dir struct {
	path string
	lock *os.File
}

// New makes a fresh locked directory under parent (created 0700 if missing).
func New(parent string) (*Dir, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("creating scratch dir: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "")
	if err != nil {
		return nil, fmt.Errorf("creating scratch dir: %w", err)
	}
	// The lock file gets its name only once it is locked: a sweep never sees an unlocked
	// "lock" of a live owner (a dir without one is protected by Grace).
	f, err := os.OpenFile(filepath.Join(dir, lockName+".new"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating scratch lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, lockName)); err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &Dir{path: dir, lock: f}, nil
}

// Path is the directory's host path.
func (d *Dir) Path() string { return d.path }

// Held reports whether the directory is still this process's (not yet removed).
func (d *Dir) Held() bool { return d != nil && d.lock != nil }

// Remove deletes the directory and releases its lock. Safe to call twice. The lock file
// goes last: a process killed while removing a big tree leaves a dir whose free lock tells
// the next Sweep to finish the job.
func (d *Dir) Remove() error {
	if d == nil || d.lock == nil {
		return nil
	}
	if err := removeAllBut(d.path, lockName); err != nil {
		return fmt.Errorf("removing %s: %w", d.path, err)
	}
	if err := removeTree(d.path); err != nil {
		return fmt.Errorf("removing %s: %w", d.path, err)
	}
	d.lock.Close()
	d.lock = nil
	return nil
}

// Release gives the directory up without removing it: its lock is freed, so the next Sweep
// removes it. It is what a process killed at this point leaves behind (tests use it).
func (d *Dir) Release() {
	if d != nil && d.lock != nil {
		d.lock.Close()
		d.lock = nil
	}
}

// Sweep removes every directory under parent whose owner has died (its lock is free),
// calling before (if not nil) on each first, e.g. to detach a mount its owner left. Dirs of
// live owners are left alone. A missing parent is not an error.
func Sweep(parent string, before func(dir string) error) error {
	ents, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweeping %s: %w", parent, err)
	}
	var errs []error
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if err := sweepDir(filepath.Join(parent, e.Name()), before); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sweepDir(dir string, before func(string) error) error {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|unix.O_NOFOLLOW, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fi, serr := os.Lstat(dir)
		if errors.Is(serr, os.ErrNotExist) {
			return nil // its owner removed it meanwhile
		}
		if serr != nil {
			return fmt.Errorf("sweeping %s: %w", dir, serr)
		}
		if time.Since(fi.ModTime()) < Grace {
			return nil // its owner may be about to lock it
		}
	case err != nil:
		return fmt.Errorf("sweeping %s: %w", dir, err)
	default:
		defer f.Close()
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil // live owner
			}
			return fmt.Errorf("sweeping %s: locking: %w", dir, err)
		}
	}
	if before != nil {
		if err := before(dir); err != nil {
			return fmt.Errorf("sweeping %s: %w", dir, err)
		}
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("sweeping %s: %w", dir, err)
	}
	return nil
}

// removeAllBut removes everything in dir but the entry keep, without following symlinks.
func removeAllBut(dir, keep string) error {
	root, err := fsroot.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() != keep {
			if err := root.RemoveAll(e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeTree removes dir and everything below it without following a symlink a build step
// may have left in it.
func removeTree(dir string) error {
	parent, err := fsroot.Open(filepath.Dir(dir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer parent.Close()
	return parent.RemoveAll(filepath.Base(dir))
}
