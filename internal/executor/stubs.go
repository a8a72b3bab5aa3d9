package executor

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"syscall"

	"github.com/hush-build/hush/internal/fsroot"
)

// Stubs remembers, before a step runs, which mount points (and their parent dirs) are
// missing from the rootfs, so that the empty files and dirs the runtime creates for them
// can be taken out of the layer afterwards. Paths are canonical inside the rootfs: every
// symlink resolved there, as the runtime resolves a mount destination.
type Stubs struct {
	missing  []string               // root-relative paths that did not exist
	existing map[string]fs.FileInfo // ancestors that existed, as directories
}

// FindStubs inspects the mounted rootfs for the given mount targets.
func FindStubs(rootfs *fsroot.Root, targets []string) *Stubs {
	s := &Stubs{existing: map[string]fs.FileInfo{}}
	seen := map[string]bool{}
	for _, t := range targets {
		canon, err := rootfs.Resolve(t)
		if err != nil {
			continue // a symlink loop: the runtime refuses the mount, nothing to undo
		}
		for p := canon; p != "" && p != "."; p = path.Dir(p) {
			if seen[p] {
				continue
			}
			seen[p] = true
			fi, err := rootfs.Lstat(p)
			if err != nil {
				s.missing = append(s.missing, p)
			} else if fi.IsDir() {
				s.existing[p] = fi
			}
		}
	}
	return s
}

// Targets lists the standard mount points every step has.
func Targets(c *Container) []string {
	t := []string{"/proc", "/dev", "/sys"}
	if sp, err := Spec(c); err == nil {
		for _, m := range sp.Mounts {
			t = append(t, m.Destination)
		}
	}
	return t
}

// Remove deletes from upper (the overlay upperdir, not mounted) the stubs created for
// missing mount points, and parent dirs that were only copied up to hold them. It never
// passes through a symlink: one on the way means the step moved things since, and what
// is there now is the step's own.
func (s *Stubs) Remove(upper string) error {
	root, err := fsroot.OpenNoSymlinks(upper)
	if err != nil {
		return err
	}
	defer root.Close()
	sort.Slice(s.missing, func(i, j int) bool { return len(s.missing[i]) > len(s.missing[j]) })
	touched := map[string]bool{}
	for _, p := range s.missing {
		if err := removeEmpty(root, p); err != nil {
			return err
		}
		touched[path.Dir(p)] = true
	}
	var dirs []string
	for p := range s.existing {
		dirs = append(dirs, p)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, p := range dirs {
		fi, err := root.Lstat(p)
		if err != nil || !fi.IsDir() || !sameOwnerMode(fi, s.existing[p]) || hasOpaque(root, p) {
			continue
		}
		if err := removeEmpty(root, p); err != nil {
			return err
		}
	}
	// A parent that stays in the layer for other reasons gets back the mtime it had
	// before the runtime created (and hush removed) a stub in it.
	for p := range touched {
		old, ok := s.existing[p]
		if !ok {
			continue
		}
		if fi, err := root.Lstat(p); err == nil && fi.IsDir() {
			_ = root.Chtimes(p, old.ModTime(), old.ModTime())
		}
	}
	return nil
}

// removeEmpty removes an empty dir or an empty regular file; anything else stays.
func removeEmpty(root *fsroot.Root, p string) error {
	fi, err := root.Lstat(p)
	if err != nil {
		return nil // gone, or behind a symlink the step planted
	}
	if !fi.IsDir() && !(fi.Mode().IsRegular() && fi.Size() == 0) {
		return nil
	}
	err = root.Remove(p)
	if err == nil || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func sameOwnerMode(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Mode == sb.Mode && sa.Uid == sb.Uid && sa.Gid == sb.Gid
}

// hasOpaque reports an opaque dir: trusted.overlay.opaque as root, user.overlay.opaque in
// a user namespace.
func hasOpaque(root *fsroot.Root, p string) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if v, err := root.Lgetxattr(p, name); err == nil && len(v) > 0 && v[0] == 'y' {
			return true
		}
	}
	return false
}
