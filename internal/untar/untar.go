// Package untar is hush's one tar extractor. ADD archives, unpacked layers (overlay lowers)
// and the type=local/type=tar rootfs export all write a tar stream into a directory through
// it, and it writes only through an fsroot.Root: every entry name, every symlink met on the
// way (one an earlier entry planted included) and every hard link target is resolved inside
// that root, so no archive can create, change or delete anything outside it.
//
// It owns the rules for hostile archives (see Extract) and the OCI layer-tar conventions it
// reads (whiteouts, opaque markers, PAX xattr records), which snapshot's layer writer shares.
// It must never hand a host path built from an entry name to a system call, never carry an
// overlayfs-private xattr from an archive onto disk, and never decompress (callers do).
package untar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/fsroot"
)

// OCI layer-tar conventions.
const (
	WhiteoutPrefix  = ".wh."
	OpaqueMarker    = ".wh..wh..opq"
	OpaqueXattr     = "trusted.overlay.opaque"
	UserOpaqueXattr = "user.overlay.opaque"
	// FuseOverlayXattrPrefix is fuse-overlayfs's own metadata (its opaque marker among it).
	FuseOverlayXattrPrefix = "user.fuseoverlayfs."
	FuseOpaqueXattr        = FuseOverlayXattrPrefix + "opaque"
	PAXXattrPrefix         = "SCHILY.xattr."
)

// IsOverlayXattr reports an xattr private to overlayfs: it must never travel inside a layer
// tar in either direction (a forged one could redirect a lookup into another layer).
func IsOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") ||
		strings.HasPrefix(name, FuseOverlayXattrPrefix) || strings.HasPrefix(name, "security.fuseoverlayfs.") ||
		name == fuseOverrideStat
}

// fuseOverrideStat on a lower's root makes fuse-overlayfs show the owners and modes the
// xattrs say instead of the files' own: a layer must not choose that.
const fuseOverrideStat = "user.containers.override_stat"

// ErrUnsafeEntry is returned (wrapped) for an entry that cannot be written safely.
var ErrUnsafeEntry = errors.New("unsafe tar entry")

// Options says how entries land.
type Options struct {
	// Overlay writes an OCI layer in overlayfs's on-disk form: ".wh.NAME" becomes a 0/0
	// character device NAME, ".wh..wh..opq" marks its directory opaque. Without it such
	// names are ordinary files.
	Overlay bool
	// Chown, when set, owns every entry instead of the archive's uid/gid.
	Chown *fsroot.Owner
	// RootMeta applies a "./" entry's owner, mode and mtime to the root directory itself;
	// otherwise the root entry is ignored.
	RootMeta bool
	// ForHost is for trees that land on the host (exports): device nodes are skipped,
	// setuid/setgid bits cleared, and file capabilities and trusted.* xattrs dropped, so an
	// image cannot plant a way to its host's disks or root privileges in an output dir.
	ForHost bool
	// UserNS is for a layer unpacked inside a user namespace (rootless): opaque directories
	// are marked with user.overlay.opaque (trusted.* xattrs cannot be set there), device
	// nodes other than whiteouts are skipped (mknod is refused there; every mount a step
	// sees is nodev, so no step could open one) and so are trusted.* xattrs.
	UserNS bool
}

// Extract writes the entries of the uncompressed tar stream r into root.
//
// Names are made relative to the root (a leading "/" and ".." are removed lexically, as the
// kernel does at a chroot's root), then resolved by the kernel inside the root. A later entry
// replaces an earlier one of the same name (a directory stays when the new entry is also a
// directory); a symlink in the way of an entry is followed inside the root, never outside.
// A hard link must name an existing non-directory inside the root; one whose target has not
// been written yet is made once the stream ends. Missing parents are created 0755, owned
// by Chown or 0:0. Directory mtimes are applied once no more children can arrive.
func Extract(r io.Reader, root *fsroot.Root, opts Options) error {
	x := &extractor{root: root, opts: opts, parents: map[string]bool{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	for _, hdr := range x.pendingLinks {
		if err := x.hardlink(fsroot.Clean(hdr.Name), hdr, false); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	return x.applyDirTimes()
}

type dirTime struct {
	rel   string
	mtime time.Time
}

type extractor struct {
	root         *fsroot.Root
	opts         Options
	dirs         []dirTime
	pendingLinks []*tar.Header
	// parents are directories known to exist, so that each entry does not walk its
	// parents again; forgotten whenever an entry removes anything.
	parents map[string]bool
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if strings.ContainsRune(hdr.Name, 0) || strings.ContainsRune(hdr.Linkname, 0) {
		return fmt.Errorf("%w: NUL in name", ErrUnsafeEntry)
	}
	rel := fsroot.Clean(hdr.Name)
	if rel == "" {
		return x.rootEntry(hdr)
	}
	parent, base := path.Split(rel)
	if err := x.ensureParent(parent); err != nil {
		return err
	}
	if x.opts.Overlay && strings.HasPrefix(base, WhiteoutPrefix) {
		return x.whiteout(parent, base, hdr)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(rel, hdr)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return x.file(rel, hdr, r)
	case tar.TypeSymlink:
		if err := x.clearPath(rel, false); err != nil {
			return err
		}
		if err := x.root.Symlink(hdr.Linkname, rel); err != nil {
			return err
		}
		return x.meta(rel, hdr, false)
	case tar.TypeLink:
		return x.hardlink(rel, hdr, true)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.node(rel, hdr)
	}
	return nil // sockets, PAX globals and the like carry no file
}

func (x *extractor) rootEntry(hdr *tar.Header) error {
	if !x.opts.RootMeta {
		return nil
	}
	if hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("%w: root entry is not a directory", ErrUnsafeEntry)
	}
	if err := x.meta("", hdr, true); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirTime{"", hdr.ModTime})
	return nil
}

func (x *extractor) ensureParent(parent string) error {
	if parent == "" || x.parents[parent] {
		return nil
	}
	own := fsroot.Owner{}
	if x.opts.Chown != nil {
		own = *x.opts.Chown
	}
	if _, err := x.root.MkdirAll(parent, 0o755, own); err != nil {
		return err
	}
	x.parents[parent] = true
	return nil
}

// clearPath removes whatever is at rel unless it is a directory and keepDir is set.
func (x *extractor) clearPath(rel string, keepDir bool) error {
	fi, err := x.root.Lstat(rel)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if keepDir && fi.IsDir() {
		return nil
	}
	clear(x.parents)
	return x.root.RemoveAll(rel)
}

func (x *extractor) whiteout(parent, base string, hdr *tar.Header) error {
	if base == OpaqueMarker {
		if x.opts.UserNS {
			return x.root.Lsetxattr(parent, UserOpaqueXattr, []byte("y"))
		}
		return x.root.Lsetxattr(parent, OpaqueXattr, []byte("y"))
	}
	name := strings.TrimPrefix(base, WhiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("%w: whiteout of %q", ErrUnsafeEntry, name)
	}
	rel := parent + name
	if err := x.clearPath(rel, false); err != nil {
		return err
	}
	if err := x.root.Mknod(rel, unix.S_IFCHR|0o600, 0); err != nil {
		return err
	}
	return x.meta(rel, hdr, true)
}

func (x *extractor) dir(rel string, hdr *tar.Header) error {
	if err := x.clearPath(rel, true); err != nil {
		return err
	}
	if err := x.root.Mkdir(rel, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := x.meta(rel, hdr, true); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirTime{rel, hdr.ModTime})
	return nil
}

func (x *extractor) file(rel string, hdr *tar.Header, r io.Reader) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL | unix.O_NOFOLLOW
	f, err := x.root.OpenFile(rel, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		if err := x.clearPath(rel, false); err != nil {
			return err
		}
		f, err = x.root.OpenFile(rel, flags, 0o600)
	}
	if err != nil {
		return err
	}
	err = x.writeFile(f, hdr, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFile fills a new regular file and sets its metadata through its descriptor: one
// path lookup per file instead of one per attribute.
func (x *extractor) writeFile(f *os.File, hdr *tar.Header, r io.Reader) error {
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	uid, gid := x.owner(hdr)
	if err := f.Chown(uid, gid); err != nil && (os.Geteuid() == 0 || !errors.Is(err, unix.EPERM)) {
		return x.ownerErr(err, uid, gid)
	}
	if err := f.Chmod(x.mode(hdr)); err != nil {
		return err
	}
	fd := int(f.Fd())
	if err := x.xattrs(hdr, func(name string, v []byte) error { return unix.Fsetxattr(fd, name, v, 0) }); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime(hdr).UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
}

// hardlink links rel to the entry hdr.Linkname names. With defer set, a target that does
// not exist yet (an export lists upper layers first) is retried after the stream.
func (x *extractor) hardlink(rel string, hdr *tar.Header, deferMissing bool) error {
	target := fsroot.Clean(hdr.Linkname)
	fi, err := x.root.Lstat(target)
	if errors.Is(err, os.ErrNotExist) && deferMissing {
		x.pendingLinks = append(x.pendingLinks, hdr)
		return nil
	}
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	if fi.IsDir() || target == "" {
		return fmt.Errorf("%w: hard link to directory %q", ErrUnsafeEntry, hdr.Linkname)
	}
	if target == rel {
		return nil
	}
	if err := x.clearPath(rel, false); err != nil {
		return err
	}
	return x.root.Link(target, rel)
}

func (x *extractor) node(rel string, hdr *tar.Header) error {
	mode := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	}
	if (x.opts.ForHost || x.opts.UserNS) && mode != unix.S_IFIFO {
		return nil
	}
	if err := x.clearPath(rel, false); err != nil {
		return err
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := x.root.Mknod(rel, mode|0o600, dev); err != nil {
		return err
	}
	return x.meta(rel, hdr, true)
}

// meta applies owner, then mode (chown clears set-id bits), xattrs and, for all but
// directories, the mtime.
func (x *extractor) meta(rel string, hdr *tar.Header, chmod bool) error {
	uid, gid := x.owner(hdr)
	if err := x.root.Lchown(rel, uid, gid); err != nil && (os.Geteuid() == 0 || !errors.Is(err, unix.EPERM)) {
		return x.ownerErr(err, uid, gid)
	}
	if chmod {
		if err := x.root.Chmod(rel, x.mode(hdr)); err != nil {
			return err
		}
	}
	if err := x.xattrs(hdr, func(name string, v []byte) error { return x.root.Lsetxattr(rel, name, v) }); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir || rel == "" {
		return nil
	}
	return x.root.Chtimes(rel, atime(hdr), hdr.ModTime)
}

// ownerErr explains a failed chown: in a user namespace EINVAL means an ID the namespace
// does not map.
func (x *extractor) ownerErr(err error, uid, gid int) error {
	if x.opts.UserNS && errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("owner %d:%d is outside this user's subordinate IDs (rootless: give the user a larger range in /etc/subuid and /etc/subgid): %w", uid, gid, err)
	}
	return err
}

func (x *extractor) owner(hdr *tar.Header) (int, int) {
	if x.opts.Chown != nil {
		return x.opts.Chown.UID, x.opts.Chown.GID
	}
	return hdr.Uid, hdr.Gid
}

// mode is the entry's permission bits, sticky bit and, unless ForHost, set-id bits.
func (x *extractor) mode(hdr *tar.Header) os.FileMode {
	m := hdr.FileInfo().Mode()
	keep := os.ModePerm | os.ModeSticky
	if !x.opts.ForHost {
		keep |= os.ModeSetuid | os.ModeSetgid
	}
	return m & keep
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

// xattrs applies the entry's SCHILY.xattr records with set, leaving out overlayfs-private
// ones and, for host trees, trusted.* and file capabilities.
func (x *extractor) xattrs(hdr *tar.Header, set func(name string, v []byte) error) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, PAXXattrPrefix)
		if !ok || IsOverlayXattr(name) {
			continue
		}
		if x.opts.ForHost && (strings.HasPrefix(name, "trusted.") || name == "security.capability") {
			continue
		}
		if x.opts.UserNS && strings.HasPrefix(name, "trusted.") {
			continue
		}
		err := set(name, []byte(v))
		if err != nil && !(x.opts.ForHost && errors.Is(err, unix.ENOTSUP)) {
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	return nil
}

// applyDirTimes sets directory mtimes, children before parents; a directory a later entry
// replaced is skipped.
func (x *extractor) applyDirTimes() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		fi, err := x.root.Lstat(d.rel)
		if err != nil || !fi.IsDir() {
			continue
		}
		if err := x.root.Chtimes(d.rel, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("setting times of %q: %w", "/"+d.rel, err)
		}
	}
	return nil
}
