package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Overlay options hush always sets: copy-ups must produce complete files and
// directories in the upper, because the upper becomes a standalone layer.
// redirect_dir would record renamed lower dirs as an xattr pointing into
// other layers, metacopy would leave file data in the lower. In a user
// namespace, where trusted.* xattrs cannot be set, overlay keeps its
// metadata (opaque dirs) in user.overlay.* xattrs instead; there the kernel
// takes redirect_dir=nofollow (neither make nor follow a redirect), not off.
func overlayFixedOpts(userXattr bool) [][2]string {
	if userXattr {
		return [][2]string{{"userxattr", ""}, {"redirect_dir", "nofollow"}, {"metacopy", "off"}, {"index", "off"}}
	}
	return [][2]string{{"redirect_dir", "off"}, {"metacopy", "off"}, {"index", "off"}}
}

// maxMountData is the largest data string mount(2) accepts: one page with
// its terminating NUL.
func maxMountData() int { return os.Getpagesize() - 1 }

type overlayConfig struct {
	lowers        []string // top-most first
	upper, work   string   // both empty for a read-only overlay
	readOnly      bool
	userXattr     bool // overlay metadata in user.overlay.* xattrs (a user namespace)
	forceFSConfig bool // tests: use the new mount API even if data would fit
}

// Mount mounts overlay at w.Merged with lowers (unpacked layer dirs, top-most
// first; may be empty) under w.Upper, with the driver DefaultDriver names. The
// returned unmount func is idempotent and falls back to a lazy detach if the
// mount stays busy.
func (w *Workspace) Mount(lowers []string) (func() error, error) {
	return DefaultDriver().Mount(w, lowers)
}

// MountReadOnly is DefaultDriver().MountReadOnly.
func MountReadOnly(lowers []string, target string) (func() error, error) {
	return DefaultDriver().MountReadOnly(lowers, target)
}

// Mount is Workspace.Mount with the driver d.
func (d Driver) Mount(w *Workspace, lowers []string) (func() error, error) {
	if mounted, err := isMountPoint(w.Merged); err != nil {
		return nil, fmt.Errorf("mounting workspace: %w", err)
	} else if mounted {
		return nil, fmt.Errorf("mounting workspace: %s is already mounted", w.Merged)
	}
	w.lowers = lowers
	if len(lowers) == 0 {
		lowers = []string{w.empty}
	}
	cfg := overlayConfig{lowers: lowers, upper: w.Upper, work: w.Work, userXattr: d.UserXattr}
	if err := d.mount(cfg, w.Merged); err != nil {
		return nil, fmt.Errorf("mounting workspace: %w", err)
	}
	if d.Fuse != "" {
		return fuseUnmounter(w.Merged, w.Upper, lowers), nil
	}
	return unmounter(w.Merged), nil
}

// MountReadOnly mounts the merged view of lowers (top-most first) read-only,
// nosuid and nodev at target, creating target if needed. One lower is bind
// mounted; zero lowers give an empty read-only tmpfs.
func (d Driver) MountReadOnly(lowers []string, target string) (func() error, error) {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return nil, fmt.Errorf("mounting read-only view: %w", err)
	}
	var err error
	switch len(lowers) {
	case 0:
		err = unix.Mount("tmpfs", target, "tmpfs",
			unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0755")
		if err != nil {
			err = fmt.Errorf("mounting empty tmpfs at %s: %w", target, err)
		}
	case 1:
		err = bindReadOnly(lowers[0], target)
	default:
		err = d.mount(overlayConfig{lowers: lowers, readOnly: true, userXattr: d.UserXattr}, target)
	}
	if err != nil {
		return nil, fmt.Errorf("mounting read-only view: %w", err)
	}
	return unmounter(target), nil
}

// bindReadOnly atomically creates a read-only bind mount: the clone is made
// read-only before it is attached, so it is never writable at target.
func bindReadOnly(src, target string) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("cloning %s: %w", src, err)
	}
	defer unix.Close(fd)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		return fmt.Errorf("making bind of %s read-only: %w", src, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching bind of %s at %s: %w", src, target, err)
	}
	return nil
}

// mountOverlay mounts with mount(2) when the data string fits in a page and
// needs no escaping, else with fsopen/fsconfig and one "lowerdir+" per layer
// (Linux ≥ 6.8), which has no total length limit.
func mountOverlay(cfg overlayConfig, target string) error {
	if len(cfg.lowers) == 0 {
		return errors.New("mounting overlay: no lower dirs")
	}
	if data, ok := legacyOverlayData(cfg); ok && !cfg.forceFSConfig {
		// nodev always: a step may make device nodes (CAP_MKNOD, as in docker run) but
		// must never open one; there is no device cgroup to stop it otherwise.
		var flags uintptr = unix.MS_NODEV
		if cfg.readOnly {
			flags |= unix.MS_RDONLY | unix.MS_NOSUID
		}
		if err := unix.Mount("overlay", target, "overlay", flags, data); err != nil {
			return fmt.Errorf("mounting overlay at %s (%d lowers): %w", target, len(cfg.lowers), err)
		}
		return nil
	}
	return fsconfigOverlay(cfg, target)
}

// legacyOverlayData builds the mount(2) data string, reporting false when it
// is too long or a path holds a byte the option parser treats specially.
func legacyOverlayData(cfg overlayConfig) (string, bool) {
	paths := append([]string{cfg.upper, cfg.work}, cfg.lowers...)
	for _, p := range paths {
		if strings.ContainsAny(p, ",:\\=") {
			return "", false
		}
	}
	var b strings.Builder
	b.WriteString("lowerdir=")
	b.WriteString(strings.Join(cfg.lowers, ":"))
	if cfg.upper != "" {
		b.WriteString(",upperdir=" + cfg.upper + ",workdir=" + cfg.work)
	}
	for _, o := range overlayFixedOpts(cfg.userXattr) {
		b.WriteString("," + optString(o))
	}
	if b.Len() > maxMountData() {
		return "", false
	}
	return b.String(), true
}

func fsconfigOverlay(cfg overlayConfig, target string) (err error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("opening overlay fs context: %w", err)
	}
	defer unix.Close(fd)
	// The kernel explains most refusals in the context's message log.
	defer func() {
		if err != nil {
			if msg := fsContextLog(fd); msg != "" {
				err = fmt.Errorf("%w (kernel: %s)", err, msg)
			}
		}
	}()
	for _, l := range cfg.lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("adding overlay lower %s (lowerdir+ needs Linux >= 6.8): %w", l, err)
			}
			return fmt.Errorf("adding overlay lower %s: %w", l, err)
		}
	}
	if cfg.upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", cfg.upper); err != nil {
			return fmt.Errorf("setting overlay upperdir %s: %w", cfg.upper, err)
		}
		if err := unix.FsconfigSetString(fd, "workdir", cfg.work); err != nil {
			return fmt.Errorf("setting overlay workdir %s: %w", cfg.work, err)
		}
	}
	for _, o := range overlayFixedOpts(cfg.userXattr) {
		err := unix.FsconfigSetFlag(fd, o[0])
		if o[1] != "" {
			err = unix.FsconfigSetString(fd, o[0], o[1])
		}
		if err != nil {
			return fmt.Errorf("setting overlay option %s: %w", optString(o), err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("creating overlay (%d lowers): %w", len(cfg.lowers), err)
	}
	attrs := unix.MOUNT_ATTR_NODEV
	if cfg.readOnly {
		attrs |= unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return fmt.Errorf("creating overlay mount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching overlay at %s: %w", target, err)
	}
	return nil
}

// optString is an option as the mount data string spells it: "name=value", or
// "name" for a flag.
func optString(o [2]string) string {
	if o[1] == "" {
		return o[0]
	}
	return o[0] + "=" + o[1]
}

// fsContextLog drains the message log of an fs context fd.
func fsContextLog(fd int) string {
	var msgs []string
	buf := make([]byte, 4096)
	for range 32 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	return strings.Join(msgs, "; ")
}

// unmounter returns an idempotent unmount func for target: a plain unmount,
// retried briefly while busy, then a lazy detach as the last resort.
func unmounter(target string) func() error {
	var (
		mu   sync.Mutex
		done bool
	)
	return func() error {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return nil
		}
		if err := unmount(target); err != nil {
			return err
		}
		done = true
		return nil
	}
}

func unmount(target string) error {
	var err error
	for i := range 5 {
		err = unix.Unmount(target, 0)
		if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil // unmounted, or nothing mounted there any more
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(time.Duration(i+1) * 20 * time.Millisecond)
	}
	if derr := unix.Unmount(target, unix.MNT_DETACH); derr != nil && !errors.Is(derr, unix.EINVAL) {
		return fmt.Errorf("unmounting %s: %w (detach: %w)", target, err, derr)
	}
	return nil
}

// isMountPoint reports whether path is the root of a mount. A missing path is
// not a mount point.
func isMountPoint(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, filepath.Clean(path), unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT,
		unix.STATX_TYPE, &stx)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking mount at %s: %w", path, err)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false, fmt.Errorf("checking mount at %s: kernel does not report mount roots", path)
	}
	return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}
