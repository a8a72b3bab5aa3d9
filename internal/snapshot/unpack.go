package snapshot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnsafeEntry is returned by Unpack for an entry that would escape the
// target dir, directly or through a symlink.
var ErrUnsafeEntry = errors.New("unsafe tar entry")

const (
	dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	// atNoFollow is AT_SYMLINK_NOFOLLOW for the *at calls that take it.
	atNoFollow = unix.AT_SYMLINK_NOFOLLOW
)

// Unpack extracts the uncompressed OCI layer tar r into dir (created if
// missing) in overlay format: .wh.<name> becomes a 0/0 char device <name>,
// .wh..wh..opq sets trusted.overlay.opaque=y on its dir. Owners, modes,
// mtimes, xattrs, hard links, devices and fifos are restored. Entries
// escaping dir are rejected, and symlinks are never followed: every path is
// resolved one component at a time with O_NOFOLLOW from dir.
func Unpack(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	root, err := unix.Open(dir, dirFlags&^unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("unpacking layer: opening %s: %w", dir, err)
	}
	defer unix.Close(root)
	u := &unpacker{root: root, dirTimes: map[string]time.Time{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("unpacking layer into %s: reading tar: %w", dir, err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("unpacking layer into %s: entry %q: %w", dir, hdr.Name, err)
		}
	}
	if err := u.applyDirTimes(); err != nil {
		return fmt.Errorf("unpacking layer into %s: %w", dir, err)
	}
	return nil
}

type unpacker struct {
	root     int
	dirTimes map[string]time.Time // rel dir -> mtime, applied after all children
}

// cleanName validates a tar name and returns it relative to the root ("." for
// the root itself).
func cleanName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty name", ErrUnsafeEntry)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute path %q", ErrUnsafeEntry, name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: %q escapes the layer dir", ErrUnsafeEntry, name)
		}
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: NUL in name", ErrUnsafeEntry)
	}
	return path.Clean(name), nil
}

// openDir opens rel (a dir relative to root) without following any symlink,
// creating missing components (0755, root-owned) if create is set.
func (u *unpacker) openDir(rel string, create bool) (int, error) {
	fd, err := unix.FcntlInt(uintptr(u.root), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	if rel == "." || rel == "" {
		return fd, nil
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, c, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, c, dirFlags, 0)
			}
		}
		unix.Close(fd)
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return -1, fmt.Errorf("%w: parent %q is a symlink or not a directory", ErrUnsafeEntry, rel)
		}
		if err != nil {
			return -1, fmt.Errorf("opening parent %q: %w", rel, err)
		}
		fd = next
	}
	return fd, nil
}

// procPath names base inside the dir open at fd, for calls without an *at
// form (lsetxattr); /proc resolves the fd itself, never a symlink by name.
func procPath(fd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + base
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: root entry is not a directory", ErrUnsafeEntry)
		}
		return u.rootDir(hdr)
	}
	parentRel, base := path.Split(rel)
	pfd, err := u.openDir(path.Clean(parentRel), true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	if base == opaqueMarker {
		if err := unix.Fsetxattr(pfd, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("marking %q opaque: %w", parentRel, err)
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if name == "" || name == "." || name == ".." {
			return fmt.Errorf("%w: bad whiteout name", ErrUnsafeEntry)
		}
		return u.node(pfd, name, hdr, unix.S_IFCHR, 0)
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(pfd, base, rel, hdr)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return u.file(pfd, base, hdr, r)
	case tar.TypeSymlink:
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("creating symlink: %w", err)
		}
		return u.meta(pfd, base, hdr, false)
	case tar.TypeLink:
		return u.hardlink(pfd, base, hdr)
	case tar.TypeChar:
		return u.node(pfd, base, hdr, unix.S_IFCHR, unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	case tar.TypeBlock:
		return u.node(pfd, base, hdr, unix.S_IFBLK, unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	case tar.TypeFifo:
		return u.node(pfd, base, hdr, unix.S_IFIFO, 0)
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

func (u *unpacker) rootDir(hdr *tar.Header) error {
	if err := unix.Fchown(u.root, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(u.root, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := setXattrs(procPath(u.root, "."), hdr); err != nil {
		return err
	}
	u.dirTimes["."] = hdr.ModTime
	return nil
}

func (u *unpacker) dir(pfd int, base, rel string, hdr *tar.Header) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, atNoFollow)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		err = unix.ENOENT
	}
	if errors.Is(err, unix.ENOENT) {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("creating dir: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if err := u.meta(pfd, base, hdr, true); err != nil {
		return err
	}
	u.dirTimes[rel] = hdr.ModTime
	return nil
}

func (u *unpacker) file(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating file: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	return u.meta(pfd, base, hdr, true)
}

func (u *unpacker) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target: %w", err)
	}
	if target == "." {
		return fmt.Errorf("%w: hard link to the root", ErrUnsafeEntry)
	}
	tParent, tBase := path.Split(target)
	tfd, err := u.openDir(path.Clean(tParent), false)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tBase, &st, atNoFollow); err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("%w: hard link to directory %q", ErrUnsafeEntry, hdr.Linkname)
	}
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	// Flags 0: link a symlink itself, never what it points to.
	if err := unix.Linkat(tfd, tBase, pfd, base, 0); err != nil {
		return fmt.Errorf("creating hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

func (u *unpacker) node(pfd int, base string, hdr *tar.Header, ifmt uint32, dev uint64) error {
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, base, ifmt|0o600, int(dev)); err != nil {
		return fmt.Errorf("creating node: %w", err)
	}
	return u.meta(pfd, base, hdr, true)
}

// meta applies owner, mode (unless a symlink), xattrs and mtime to base in
// pfd. Order matters: chown clears set-id bits, so chmod comes after it.
func (u *unpacker) meta(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, atNoFollow); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if chmod {
		// Safe to follow: base was just created by us, or checked to be a dir.
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := setXattrs(procPath(pfd, base), hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeDir {
		if err := setTime(pfd, base, hdr.ModTime); err != nil {
			return err
		}
	}
	return nil
}

func setXattrs(p string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok || isOverlayXattr(name) {
			continue
		}
		if err := unix.Lsetxattr(p, name, []byte(v), 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	return nil
}

func setTime(pfd int, base string, mtime time.Time) error {
	ts := unix.NsecToTimespec(mtime.UnixNano())
	if err := unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, atNoFollow); err != nil {
		return fmt.Errorf("setting mtime: %w", err)
	}
	return nil
}

// applyDirTimes sets directory mtimes once no more children will be created.
func (u *unpacker) applyDirTimes() error {
	for rel, mtime := range u.dirTimes {
		if rel == "." {
			if err := setTime(u.root, ".", mtime); err != nil {
				return fmt.Errorf("dir %q: %w", rel, err)
			}
			continue
		}
		parentRel, base := path.Split(rel)
		pfd, err := u.openDir(path.Clean(parentRel), false)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, ErrUnsafeEntry) {
			continue // a parent was replaced by a later entry
		}
		if err != nil {
			return fmt.Errorf("dir %q: %w", rel, err)
		}
		var st unix.Stat_t
		err = unix.Fstatat(pfd, base, &st, atNoFollow)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = setTime(pfd, base, mtime)
		} else if errors.Is(err, unix.ENOENT) || err == nil {
			err = nil // replaced by a later entry
		}
		unix.Close(pfd)
		if err != nil {
			return fmt.Errorf("dir %q: %w", rel, err)
		}
	}
	return nil
}

// removeAt removes whatever base is in pfd, if anything; dirs recursively.
func removeAt(pfd int, base string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, atNoFollow)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat existing: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.RemoveAll(procPath(pfd, base))
	} else {
		err = unix.Unlinkat(pfd, base, 0)
	}
	if err != nil {
		return fmt.Errorf("replacing existing entry: %w", err)
	}
	return nil
}
