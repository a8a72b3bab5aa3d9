package executor

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
)

// Stubs remembers, before a step runs, which mount points (and their parent dirs) are
// missing from the rootfs, so that the empty files and dirs the runtime creates for them
// can be taken out of the layer afterwards.
type Stubs struct {
	missing  []string               // paths that did not exist, slash-separated, absolute
	existing map[string]fs.FileInfo // ancestors that existed
}

// FindStubs inspects rootfs (the merged view) for the given mount targets.
func FindStubs(rootfs string, targets []string) *Stubs {
	s := &Stubs{existing: map[string]fs.FileInfo{}}
	seen := map[string]bool{}
	for _, t := range targets {
		for p := path.Clean("/" + t); p != "/"; p = path.Dir(p) {
			if seen[p] {
				continue
			}
			seen[p] = true
			fi, err := os.Lstat(filepath.Join(rootfs, p))
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
// missing mount points, and parent dirs that were only copied up to hold them.
func (s *Stubs) Remove(upper string) error {
	sort.Slice(s.missing, func(i, j int) bool { return len(s.missing[i]) > len(s.missing[j]) })
	touched := map[string]bool{}
	for _, p := range s.missing {
		if err := removeEmpty(filepath.Join(upper, p)); err != nil {
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
		full := filepath.Join(upper, p)
		fi, err := os.Lstat(full)
		if err != nil || !fi.IsDir() || !sameOwnerMode(fi, s.existing[p]) || hasOpaque(full) {
			continue
		}
		if err := removeEmpty(full); err != nil {
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
		full := filepath.Join(upper, p)
		if fi, err := os.Lstat(full); err == nil && fi.IsDir() {
			_ = os.Chtimes(full, old.ModTime(), old.ModTime())
		}
	}
	return nil
}

// removeEmpty removes an empty dir or an empty regular file; anything else stays.
func removeEmpty(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil
	}
	switch {
	case fi.IsDir():
		err = os.Remove(p)
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return nil
		}
	case fi.Mode().IsRegular() && fi.Size() == 0:
		err = os.Remove(p)
	default:
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func sameOwnerMode(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Mode == sb.Mode && sa.Uid == sb.Uid && sa.Gid == sb.Gid
}

func hasOpaque(p string) bool {
	buf := make([]byte, 8)
	n, err := syscall.Getxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && n > 0 && buf[0] == 'y'
}
