// Package outfile owns the destinations hush writes its outputs to (an
// --output archive or directory, --iidfile, --metadata-file) and the
// temporary names beside them.
//
// A regular file or a new path is written under a temporary name in the same
// directory (".NAME.tmp-DIGITS", mode 0600 while it is written) and renamed
// over the final name only when complete. An existing path that is not a
// regular file is opened and written through as a stream, the way buildx
// does: a character device (/dev/null, a terminal), a FIFO, or a symlink
// (/dev/stdout; a link to a regular file too, which buildx also follows and
// truncates).
//
// A temporary name is flock'ed while its writer lives; the next write to the
// same destination removes the unlocked ones a killed run left behind.
//
// It must never remove anything but its own temporary names of the
// destination it is writing, never follow a symlink to delete, and never
// leave a partial file under a final name.
package outfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Write fills path by calling fill once. perm is the mode of a new file; a
// replaced regular file keeps its mode and owner.
func Write(path string, perm os.FileMode, fill func(io.Writer) error) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return replace(path, perm, nil, fill)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, want a file", path)
	case fi.Mode().IsRegular():
		return replace(path, perm, fi, fill)
	default:
		return writeThrough(path, perm, fill)
	}
}

// writeThrough streams into an existing non-regular path (following a
// symlink, creating a dangling link's target like buildx's os.Create).
func writeThrough(path string, perm os.FileMode, fill func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replace writes a temp file beside path and renames it over path. old is
// the regular file being replaced, nil for a new path.
func replace(path string, perm os.FileMode, old os.FileInfo, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := RemoveStale(path); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return err
	}
	defer f.Close() // after the rename: the lock covers the whole life of the name
	tmp := f.Name()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("locking %s: %w", tmp, err)
	}
	if err := fillFile(f, perm, old, fill); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fillFile writes the temp file, gives it its final mode (and the replaced
// file's owner) and syncs it.
func fillFile(f *os.File, perm os.FileMode, old os.FileInfo, fill func(io.Writer) error) error {
	if err := fill(f); err != nil {
		return err
	}
	mode := perm
	if old != nil {
		mode = old.Mode().Perm()
		if st, ok := old.Sys().(*syscall.Stat_t); ok {
			if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
				return err
			}
		}
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	return f.Sync()
}

// TempDir creates a locked, empty temporary directory beside path (on the
// same filesystem, so it can be renamed to path) after removing the stale
// temporary names of path. release unlocks it; the caller removes or renames
// the directory, before or after release.
func TempDir(path string) (dir string, release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", nil, err
	}
	if err := RemoveStale(path); err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		return "", nil, err
	}
	d, err := os.Open(dir)
	if err == nil {
		err = unix.Flock(int(d.Fd()), unix.LOCK_EX)
	}
	if err != nil {
		if d != nil {
			d.Close()
		}
		os.Remove(dir)
		return "", nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return dir, func() { d.Close() }, nil
}

// tempPattern is the os.CreateTemp/MkdirTemp pattern for temp names of path:
// both replace "*" with decimal digits.
func tempPattern(path string) string {
	return "." + filepath.Base(path) + ".tmp-*"
}

// isTempName reports whether name is a temporary name of a destination
// whose base name is base: ".BASE.tmp-" and digits, nothing else.
func isTempName(name, base string) bool {
	rest, ok := strings.CutPrefix(name, "."+base+".tmp-")
	if !ok || rest == "" {
		return false
	}
	return strings.Trim(rest, "0123456789") == ""
}

// RemoveStale removes the temporary names of path (files or directories,
// never symlinks or anything else) that no live writer holds locked.
func RemoveStale(path string) error {
	dir, base := filepath.Dir(path), filepath.Base(path)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking for stale temporary files of %s: %w", path, err)
	}
	for _, e := range ents {
		if !isTempName(e.Name(), base) || !(e.Type().IsRegular() || e.IsDir()) {
			continue
		}
		if err := removeUnlocked(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing stale temporary output: %w", err)
		}
	}
	return nil
}

// removeUnlocked removes the temp file or directory p unless a live writer
// holds its lock. It is opened without following a symlink, so a link
// swapped in under the name fails instead of being followed.
func removeUnlocked(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil // a running hush is writing it
		}
		return fmt.Errorf("locking %s: %w", p, err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return os.RemoveAll(p)
	case fi.Mode().IsRegular():
		return os.Remove(p)
	}
	return nil
}

// IsRoot reports whether path names the root directory, after following
// symlinks ("/", "/tmp/..", a link to "/").
func IsRoot(path string) bool {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		path = r
	}
	abs, err := filepath.Abs(path)
	return err == nil && abs == "/"
}

// FollowDir returns the directory a symlink path points to (a destination
// directory given as a link is written through, as buildx does), or path
// itself when it is not a symlink. A dangling link is an error.
func FollowDir(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%s is a symlink to a missing directory: %w", path, err)
	}
	fi, err = os.Stat(target)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is a symlink to %s, which is not a directory", path, target)
	}
	return target, nil
}
