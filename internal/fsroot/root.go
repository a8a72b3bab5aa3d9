package fsroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Root is an open directory that names inside it are resolved against.
type Root struct {
	fd      int    // O_PATH descriptor of the root directory
	path    string // host path the root was opened at, for messages only
	resolve uint64 // openat2 RESOLVE_* flags
}

// resolveFlags makes the kernel resolve a name as if the root were "/" and refuse
// /proc-style magic links, which could point anywhere.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// Open opens the directory dir as a root. dir itself is a trusted host path (hush's own
// state dir, an output the user named); only names inside it are resolved in the root.
func Open(dir string) (*Root, error) { return open(dir, resolveFlags) }

// OpenNoSymlinks opens dir as a root in which no name may pass through a symlink at all
// (ELOOP): for undoing what hush itself placed at a known canonical path, where a symlink
// on the way can only mean a step moved things since.
func OpenNoSymlinks(dir string) (*Root, error) {
	return open(dir, resolveFlags|unix.RESOLVE_NO_SYMLINKS)
}

func open(dir string, resolve uint64) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open root", Path: dir, Err: err}
	}
	return &Root{fd: fd, path: dir, resolve: resolve}, nil
}

// Close releases the root's descriptor.
func (r *Root) Close() error {
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// Path is the host path the root was opened at. It is for messages and for mounting on
// the root itself, never for building paths of entries inside it.
func (r *Root) Path() string { return r.path }

// Clean makes name a slash-separated path relative to the root ("" for the root itself).
// ".." is removed lexically first, as BuildKit cleans Dockerfile paths; symlinks are then
// resolved by the kernel inside the root.
func Clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// openat2 opens rel (already Clean) inside the root, retrying the transient EAGAIN the
// kernel returns when a rename races with RESOLVE_IN_ROOT.
func (r *Root) openat2(rel string, flags int, mode uint32) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: r.resolve}
	if flags&unix.O_CREAT != 0 {
		how.Mode = uint64(mode)
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(r.fd, rel, &how)
		if (errors.Is(err, unix.EAGAIN) && tries < 64) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// parent opens the directory holding rel (resolving symlinks on the way, inside the root)
// and returns it with rel's last component. rel must not be the root.
func (r *Root) parent(rel string) (int, string, error) {
	if rel == "" {
		return -1, "", unix.EINVAL
	}
	dir, base := path.Split(rel)
	fd, err := r.openat2(strings.TrimSuffix(dir, "/"), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", err
	}
	return fd, base, nil
}

// atParent runs fn with the parent descriptor and last component of name.
func (r *Root) atParent(op, name string, fn func(pfd int, base string) error) error {
	rel := Clean(name)
	pfd, base, err := r.parent(rel)
	if err == nil {
		err = fn(pfd, base)
		unix.Close(pfd)
	}
	if err != nil {
		return &fs.PathError{Op: op, Path: "/" + rel, Err: err}
	}
	return nil
}

// OpenFile opens name inside the root. The last component is followed (inside the root)
// unless flag has O_NOFOLLOW; O_CREAT|O_EXCL never follows it.
func (r *Root) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	rel := Clean(name)
	fd, err := r.openat2(rel, flag, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: "/" + rel, Err: err}
	}
	return os.NewFile(uintptr(fd), "/"+rel), nil
}

// Open opens name for reading.
func (r *Root) Open(name string) (*os.File, error) { return r.OpenFile(name, os.O_RDONLY, 0) }

// Lstat describes name itself (a symlink is not followed).
func (r *Root) Lstat(name string) (fs.FileInfo, error) { return r.stat(name, unix.O_NOFOLLOW) }

// Stat describes what name resolves to inside the root.
func (r *Root) Stat(name string) (fs.FileInfo, error) { return r.stat(name, 0) }

func (r *Root) stat(name string, flags int) (fs.FileInfo, error) {
	rel := Clean(name)
	fd, err := r.openat2(rel, unix.O_PATH|flags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: "/" + rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), path.Base("/"+rel))
	defer f.Close()
	return f.Stat()
}

// Mkdir creates the directory name; an existing entry (a symlink included) is EEXIST.
func (r *Root) Mkdir(name string, perm os.FileMode) error {
	return r.atParent("mkdir", name, func(pfd int, base string) error {
		return unix.Mkdirat(pfd, base, uint32(perm.Perm()))
	})
}

// Owner is a numeric owner; a negative id leaves that id unchanged.
type Owner struct{ UID, GID int }

// MkdirAll creates name and its missing parents with mode perm (exactly, whatever the
// umask) owned by own, following existing symlinks inside the root as `mkdir -p` run in the
// container would. It returns the directories it created, parents first, spelled as in name
// (relative, cleaned). An existing component that is not a directory is ENOTDIR; a dangling
// symlink is EEXIST, as for mkdir -p.
func (r *Root) MkdirAll(name string, perm os.FileMode, own Owner) ([]string, error) {
	rel := Clean(name)
	if rel == "" {
		return nil, nil
	}
	var created []string
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fd, err := r.openat2(p, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return created, &fs.PathError{Op: "mkdir", Path: "/" + p, Err: err}
		}
		if err := r.mkdirOwned(p, perm, own); err != nil {
			return created, err
		}
		created = append(created, p)
	}
	return created, nil
}

// mkdirOwned creates rel and sets its owner and mode through a descriptor of the new
// directory, so nothing else can be changed by a swap in between.
func (r *Root) mkdirOwned(rel string, perm os.FileMode, own Owner) error {
	return r.atParent("mkdir", rel, func(pfd int, base string) error {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return err
		}
		dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		if err := unix.Fchown(dfd, own.UID, own.GID); err != nil {
			return err
		}
		return unix.Fchmod(dfd, unixMode(perm))
	})
}

// Remove removes name itself (a file, a symlink, a device, or an empty directory).
func (r *Root) Remove(name string) error {
	return r.atParent("remove", name, func(pfd int, base string) error {
		err := unix.Unlinkat(pfd, base, 0)
		if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
			return err
		}
		// A directory (unlink refuses those with EISDIR, or EPERM on some filesystems).
		if derr := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR); !errors.Is(derr, unix.ENOTDIR) {
			return derr
		}
		return err
	})
}

// RemoveAll removes name and, if it is a directory, everything below it, never following a
// symlink. A missing name is not an error.
func (r *Root) RemoveAll(name string) error {
	if Clean(name) == "" {
		return &fs.PathError{Op: "removeall", Path: "/", Err: unix.EINVAL}
	}
	err := r.atParent("removeall", name, func(pfd int, base string) error { return removeAllAt(pfd, base) })
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

func removeAllAt(dfd int, base string) error {
	err := unix.Unlinkat(dfd, base, 0)
	if err == nil || !(errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM)) {
		return err
	}
	fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), base)
	names, err := d.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n); err != nil && !errors.Is(err, unix.ENOENT) {
				break
			}
			err = nil
		}
	}
	d.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(dfd, base, unix.AT_REMOVEDIR)
}

// Lchown sets the owner of name itself.
func (r *Root) Lchown(name string, uid, gid int) error {
	if Clean(name) == "" {
		return r.onRoot("lchown", func(p string) error { return unix.Chown(p, uid, gid) })
	}
	return r.atParent("lchown", name, func(pfd int, base string) error {
		return unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// Chmod sets the mode of what name resolves to inside the root (symlinks have no mode).
func (r *Root) Chmod(name string, mode os.FileMode) error {
	rel := Clean(name)
	fd, err := r.openat2(rel, unix.O_PATH, 0)
	if err != nil {
		return &fs.PathError{Op: "chmod", Path: "/" + rel, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Chmod(procFD(fd), unixMode(mode)); err != nil {
		return &fs.PathError{Op: "chmod", Path: "/" + rel, Err: err}
	}
	return nil
}

// Chtimes sets the access and modification times of name itself.
func (r *Root) Chtimes(name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if Clean(name) == "" {
		return r.onRoot("chtimes", func(p string) error { return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0) })
	}
	return r.atParent("chtimes", name, func(pfd int, base string) error {
		return unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// Symlink creates name as a symlink to target (stored verbatim, resolved only when used).
func (r *Root) Symlink(target, name string) error {
	return r.atParent("symlink", name, func(pfd int, base string) error {
		return unix.Symlinkat(target, pfd, base)
	})
}

// Readlink returns the target of the symlink name.
func (r *Root) Readlink(name string) (string, error) {
	var target string
	err := r.atParent("readlink", name, func(pfd int, base string) error {
		buf := make([]byte, 256)
		for {
			n, err := unix.Readlinkat(pfd, base, buf)
			if err != nil {
				return err
			}
			if n < len(buf) {
				target = string(buf[:n])
				return nil
			}
			buf = make([]byte, 2*len(buf))
		}
	})
	return target, err
}

// Link makes newname a hard link to oldname itself (a symlink is linked, not followed).
func (r *Root) Link(oldname, newname string) error {
	return r.atParent("link", oldname, func(opfd int, obase string) error {
		return r.atParent("link", newname, func(npfd int, nbase string) error {
			return unix.Linkat(opfd, obase, npfd, nbase, 0)
		})
	})
}

// Rename renames oldname to newname, both inside the root.
func (r *Root) Rename(oldname, newname string) error {
	return r.atParent("rename", oldname, func(opfd int, obase string) error {
		return r.atParent("rename", newname, func(npfd int, nbase string) error {
			return unix.Renameat(opfd, obase, npfd, nbase)
		})
	})
}

// Mknod creates a device node or fifo; mode holds the file type bits (unix.S_IFCHR…).
func (r *Root) Mknod(name string, mode uint32, dev uint64) error {
	return r.atParent("mknod", name, func(pfd int, base string) error {
		return unix.Mknodat(pfd, base, mode, int(dev))
	})
}

// Lsetxattr sets an extended attribute on name itself.
func (r *Root) Lsetxattr(name, attr string, value []byte) error {
	if Clean(name) == "" {
		return r.onRoot("setxattr", func(p string) error { return unix.Setxattr(p, attr, value, 0) })
	}
	return r.atParent("setxattr", name, func(pfd int, base string) error {
		return unix.Lsetxattr(procFD(pfd)+"/"+base, attr, value, 0)
	})
}

// ReadDir lists the directory name resolves to, sorted by name.
func (r *Root) ReadDir(name string) ([]os.DirEntry, error) {
	f, err := r.OpenFile(name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// onRoot runs fn on the root directory through its /proc descriptor link.
func (r *Root) onRoot(op string, fn func(p string) error) error {
	if err := fn(procFD(r.fd)); err != nil {
		return &fs.PathError{Op: op, Path: "/", Err: err}
	}
	return nil
}

// procFD names what an open descriptor refers to; the kernel resolves the link to the
// descriptor's own file, never by a path name.
func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// FileMode turns raw permission and set-id bits (as in stat's st_mode) into an os.FileMode.
func FileMode(perm uint32) os.FileMode {
	m := os.FileMode(perm & 0o777)
	if perm&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if perm&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if perm&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

// String names the root for messages.
func (r *Root) String() string { return fmt.Sprintf("root %s", r.path) }

// OpenRoot opens the directory name resolves to as a root of its own: names below it are
// then confined to it (an ADD archive is extracted "chrooted" at its destination).
func (r *Root) OpenRoot(name string) (*Root, error) {
	rel := Clean(name)
	fd, err := r.openat2(rel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open root", Path: "/" + rel, Err: err}
	}
	return &Root{fd: fd, path: path.Join(r.path, rel), resolve: r.resolve}, nil
}

// Lgetxattr reads an extended attribute of name itself.
func (r *Root) Lgetxattr(name, attr string) ([]byte, error) {
	var val []byte
	get := func(p string, get func(string, string, []byte) (int, error)) error {
		buf := make([]byte, 256)
		for {
			n, err := get(p, attr, buf)
			if errors.Is(err, unix.ERANGE) {
				buf = make([]byte, 4*len(buf))
				continue
			}
			if err != nil {
				return err
			}
			val = buf[:n]
			return nil
		}
	}
	var err error
	if Clean(name) == "" {
		err = r.onRoot("getxattr", func(p string) error { return get(p, unix.Getxattr) })
	} else {
		err = r.atParent("getxattr", name, func(pfd int, base string) error {
			return get(procFD(pfd)+"/"+base, unix.Lgetxattr)
		})
	}
	return val, err
}

// maxSymlinks bounds symlink hops while resolving one name, like the kernel's limit.
const maxSymlinks = 40

// Visit is called by ResolveVisit for every existing component met, symlinks included,
// with its root-relative path and Lstat info; an error stops the resolution with it.
type Visit func(rel string, fi fs.FileInfo) error

// Resolve returns the canonical path name leads to inside the root (relative, no
// symlinks), following symlinks the way the kernel would in the container; a symlink whose
// target does not exist is followed too, and missing components are appended as spelled.
// This is where BuildKit puts a COPY destination and where a runtime makes a mount point.
func (r *Root) Resolve(name string) (string, error) { return r.ResolveVisit(name, true, nil) }

// ResolveVisit is Resolve with the last component followed only when followFinal is set,
// calling visit (if not nil) on every existing component met.
func (r *Root) ResolveVisit(name string, followFinal bool, visit Visit) (string, error) {
	pending := strings.Split(Clean(name), "/")
	var cur []string
	hops := 0
	for len(pending) > 0 {
		comp := pending[0]
		pending = pending[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		rel := strings.Join(append(cur, comp), "/")
		fi, err := r.Lstat(rel)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			cur = append(cur, comp)
			continue
		}
		if err != nil {
			return "", err
		}
		if visit != nil {
			if err := visit(rel, fi); err != nil {
				return "", err
			}
		}
		if fi.Mode()&fs.ModeSymlink == 0 || (len(pending) == 0 && !followFinal) {
			cur = append(cur, comp)
			continue
		}
		if hops++; hops > maxSymlinks {
			return "", &fs.PathError{Op: "resolve", Path: "/" + Clean(name), Err: unix.ELOOP}
		}
		target, err := r.Readlink(rel)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			cur = cur[:0]
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return strings.Join(cur, "/"), nil
}

// ErrNotRegular is returned (wrapped) by ReadFile for a name that is not a regular file (a
// FIFO, a device, a socket, a directory).
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads the regular file name resolves to inside the root, at most max bytes. It
// never blocks on a FIFO nor reads a device: the file is opened non-blocking and checked
// before anything is read.
func (r *Root) ReadFile(name string, max int64) ([]byte, error) {
	f, err := r.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: "/" + Clean(name), Err: ErrNotRegular}
	}
	if fi.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: "/" + Clean(name), Err: fmt.Errorf("larger than %d bytes", max)}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &fs.PathError{Op: "read", Path: "/" + Clean(name), Err: fmt.Errorf("larger than %d bytes", max)}
	}
	return b, nil
}

// ReadFileIn reads name (relative to dir) inside dir opened as a root: see ReadFile.
func ReadFileIn(dir, name string, max int64) ([]byte, error) {
	r, err := Open(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ReadFile(name, max)
}
