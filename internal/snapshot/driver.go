package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hush-build/hush/internal/fsroot"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/rootless"
)

// Driver is how overlays are mounted: the kernel's overlayfs (keeping its metadata in
// user.overlay.* xattrs inside a user namespace) or, where the kernel refuses an overlay
// there (an old kernel, a container's own overlay root filesystem), fuse-overlayfs.
type Driver struct {
	// UserXattr mounts the kernel's overlayfs with userxattr: what a user namespace needs.
	UserXattr bool
	// Fuse is the fuse-overlayfs binary; "" for the kernel's overlayfs.
	Fuse string
}

// DefaultDriver is the kernel's overlayfs, with user xattrs in a user namespace.
func DefaultDriver() Driver { return Driver{UserXattr: rootless.InUserNS()} }

// String names the driver as `hush info` shows it.
func (d Driver) String() string {
	switch {
	case d.Fuse != "":
		return "fuse-overlayfs (" + d.Fuse + ")"
	case d.UserXattr:
		return "overlayfs (kernel, userxattr)"
	}
	return "overlayfs (kernel)"
}

// mount mounts cfg at target.
func (d Driver) mount(cfg overlayConfig, target string) error {
	if d.Fuse != "" {
		return fuseMount(d.Fuse, cfg, target)
	}
	return mountOverlay(cfg, target)
}

// Detect picks the driver for overlays of layers kept under dir. Outside a user namespace
// it is the kernel's overlayfs. Inside one, a trial overlay is mounted in a fresh dir under
// dir (removing a lower file through it, as a step would): the kernel's when it works, else
// fuse-overlayfs when installed and /dev/fuse opens; else the error names both ways out.
func Detect(dir string) (Driver, error) {
	d := DefaultDriver()
	if !d.UserXattr {
		return d, nil
	}
	kerr := probe(d, dir)
	if kerr == nil {
		return d, nil
	}
	bin, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return d, fmt.Errorf("overlayfs refuses to mount under %s (%w) and fuse-overlayfs is not installed: put the state dir (--root, HUSH_ROOT) on a bind-mounted volume or a tmpfs, where overlayfs works, or install the Debian package fuse-overlayfs", dir, kerr)
	}
	if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err != nil {
		return d, fmt.Errorf("overlayfs refuses to mount under %s (%w) and fuse-overlayfs cannot open /dev/fuse (%w): put the state dir (--root, HUSH_ROOT) on a bind-mounted volume or a tmpfs, or give the container /dev/fuse (docker run --device /dev/fuse)", dir, kerr, err)
	} else {
		f.Close()
	}
	fd := Driver{Fuse: bin}
	if ferr := probe(fd, dir); ferr != nil {
		return d, fmt.Errorf("overlayfs refuses to mount under %s (%w), and so does fuse-overlayfs (%w)", dir, kerr, ferr)
	}
	return fd, nil
}

// probe mounts a trial overlay with d in a fresh dir under dir and removes a lower file
// through it (a whiteout), then cleans up.
func probe(d Driver, dir string) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ws := &Workspace{Upper: filepath.Join(tmp, "u"), Work: filepath.Join(tmp, "w"), Merged: filepath.Join(tmp, "m")}
	lower := filepath.Join(tmp, "l")
	for _, p := range []string{lower, ws.Upper, ws.Work, ws.Merged} {
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
	}
	if err := writeEmpty(lower, "f"); err != nil {
		return err
	}
	unmount, err := d.Mount(ws, []string{lower})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unmount()) }()
	merged, err := fsroot.Open(ws.Merged)
	if err != nil {
		return err
	}
	defer merged.Close()
	if err := merged.Remove("f"); err != nil {
		return fmt.Errorf("removing a lower file through the overlay: %w", err)
	}
	return nil
}

// writeEmpty creates the empty file name inside dir.
func writeEmpty(dir, name string) error {
	r, err := fsroot.Open(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// fuseMount mounts cfg with fuse-overlayfs, which forks into the background once the
// mount is ready; unmounting ends it. Its mounts are always nodev (FUSE in a user
// namespace).
func fuseMount(bin string, cfg overlayConfig, target string) error {
	if len(cfg.lowers) == 0 {
		return errors.New("mounting fuse-overlayfs: no lower dirs")
	}
	for _, p := range append([]string{cfg.upper, cfg.work}, cfg.lowers...) {
		if strings.ContainsAny(p, ",:\\=") {
			return fmt.Errorf("mounting fuse-overlayfs: path %q holds a character its options cannot carry", p)
		}
	}
	opts := "lowerdir=" + strings.Join(cfg.lowers, ":")
	if cfg.upper != "" {
		opts += ",upperdir=" + cfg.upper + ",workdir=" + cfg.work
	}
	opts += ",nodev"
	if cfg.readOnly {
		opts += ",ro,nosuid"
	}
	out, err := exec.Command(bin, "-o", opts, target).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mounting fuse-overlayfs at %s (%d lowers): %w: %s", target, len(cfg.lowers), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// fuseUnmounter is unmounter for a workspace fuse-overlayfs mounted: once unmounted, its
// upper dir is put in the kernel's form (normalizeFuseUpper), so that what follows (stub
// removal, the layer tar, its use as a lower) sees no difference.
func fuseUnmounter(merged, upper string, lowers []string) func() error {
	unmount := unmounter(merged)
	var normalized bool
	return func() error {
		if err := unmount(); err != nil || normalized {
			return err
		}
		if err := normalizeFuseUpper(upper, lowers); err != nil {
			return fmt.Errorf("normalizing fuse-overlayfs upper %s: %w", upper, err)
		}
		normalized = true
		return nil
	}
}

// normalizeFuseUpper rewrites fuse-overlayfs's opaque directories in the upper dir into
// the kernel's form. fuse-overlayfs marks every directory a step makes opaque, with two
// entries of its own, ".wh..wh..opq" (an empty file) and ".wh..opq" (a whiteout), beside
// trusted.overlay.opaque as root or, in a user namespace, user.fuseoverlayfs.opaque. The
// kernel marks one opaque only when it replaces something in a lower (lowers, top-most
// first): such a dir keeps an opaque xattr the kernel reads (user.overlay.opaque for
// fuse-overlayfs's own); any other loses the mark. The marker entries go either way, and
// each dir keeps the mtime the step gave it.
func normalizeFuseUpper(upper string, lowers []string) error {
	return filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		opaque, err := isOpaque(p)
		if err != nil || !opaque {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if err := setKernelOpaque(p, rel == "." || inLowers(lowers, rel)); err != nil {
			return err
		}
		for _, m := range []string{opaqueMarker, whiteoutPrefix + ".opq"} {
			if err := os.Remove(filepath.Join(p, m)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("normalizing %s: %w", p, err)
			}
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// setKernelOpaque leaves dir p opaque in the kernel's form when keep is set (turning
// fuse-overlayfs's own xattr into user.overlay.opaque), else removes every opaque xattr.
func setKernelOpaque(p string, keep bool) error {
	fuseOpaque, err := hasXattrY(p, fuseOpaqueXattr)
	if err != nil {
		return err
	}
	if keep && fuseOpaque {
		if err := unix.Lsetxattr(p, userOpaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("marking %s opaque: %w", p, err)
		}
	}
	for _, name := range []string{opaqueXattr, userOpaqueXattr, fuseOpaqueXattr} {
		if keep && name != fuseOpaqueXattr {
			continue
		}
		// Only one that is there: in a user namespace even removing an absent trusted.*
		// xattr is refused.
		if _, err := lgetxattr(p, name); isNoXattr(err) {
			continue
		}
		if err := unix.Lremovexattr(p, name); err != nil && !isNoXattr(err) {
			return fmt.Errorf("normalizing %s: %w", p, err)
		}
	}
	return nil
}

// inLowers reports whether any lower has an entry (a whiteout included) at rel.
func inLowers(lowers []string, rel string) bool {
	for _, l := range lowers {
		var st unix.Stat_t
		if lstatBelow(l, filepath.ToSlash(rel), &st) == nil {
			return true
		}
	}
	return false
}

// hasXattrY reports whether p has the xattr name set to "y".
func hasXattrY(p, name string) (bool, error) {
	v, err := lgetxattr(p, name)
	if isNoXattr(err) {
		return false, nil
	}
	return err == nil && string(v) == "y", err
}
